bucket         = "roost-terraform-state"
key            = "staging/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "roost-terraform-locks"
encrypt        = true
