# Roost on AWS: one VPC, one EKS cluster, RDS PostgreSQL, ElastiCache Redis, S3 for images,
# SQS for jobs, ECR for the image, and IAM roles for the pods (IRSA) and for CI (GitHub OIDC).
# Why EKS and not ECS: docs/adr/0003-aws-runtime-eks.md.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

data "aws_availability_zones" "available" {
  # checkov:skip=CKV_AWS_394: the subnets take the first three zone names once; a zone AWS adds later is not used until we choose to
  state = "available"
}

data "aws_caller_identity" "current" {}

locals {
  name = "roost-${var.environment}"
  azs  = slice(data.aws_availability_zones.available.names, 0, 3)

  tags = {
    Project     = "roost"
    Environment = var.environment
    ManagedBy   = "terraform"
  }
}
