bucket         = "roost-terraform-state"
key            = "prod/terraform.tfstate"
region         = "eu-west-1"
dynamodb_table = "roost-terraform-locks"
encrypt        = true
