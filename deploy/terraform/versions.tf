terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.70"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    # Installs the Cluster Autoscaler chart into the cluster this stack creates (autoscaling.tf).
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.15"
    }
  }

  # Partial configuration, one state per environment:
  #   terraform init -backend-config=backend/prod.hcl
  backend "s3" {}
}
