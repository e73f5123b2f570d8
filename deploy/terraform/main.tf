# Roost on AWS: one VPC, one EKS cluster, RDS PostgreSQL, ElastiCache Redis, S3 for images,
# SQS for jobs, ECR for the image, and IAM roles for the pods (IRSA) and for CI (GitHub OIDC);
# around them CloudFront + WAF at the edge (edge.tf), alarms and budgets (alarms.tf, budgets.tf),
# node autoscaling (autoscaling.tf) and the backups bucket (backups.tf).
# Why EKS and not ECS: docs/adr/0003-aws-runtime-eks.md.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

# CloudFront's web ACL (WAFv2 scope CLOUDFRONT) can only be created in us-east-1.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

# Talks to the cluster this stack creates; a token from the operator's AWS credentials, never
# a stored kubeconfig. Used only for the Cluster Autoscaler chart (autoscaling.tf).
provider "helm" {
  kubernetes {
    host                   = module.eks.cluster_endpoint
    cluster_ca_certificate = base64decode(module.eks.cluster_certificate_authority_data)

    exec {
      api_version = "client.authentication.k8s.io/v1beta1"
      command     = "aws"
      args        = ["eks", "get-token", "--cluster-name", module.eks.cluster_name, "--region", var.region]
    }
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
