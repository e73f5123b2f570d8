# Three zones. Pods and nodes in private subnets; load balancers in public ones; databases and
# caches in their own subnets, reachable only from the nodes' security group.
module "vpc" {
  # checkov:skip=CKV_TF_1: Terraform Registry module pinned by version; commit hashes apply to git sources only
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.13"

  name = local.name
  cidr = var.vpc_cidr
  azs  = local.azs

  private_subnets     = [for index, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, index)]
  public_subnets      = [for index, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, 48 + index)]
  database_subnets    = [for index, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, 52 + index)]
  elasticache_subnets = [for index, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, 56 + index)]

  create_database_subnet_group    = true
  create_elasticache_subnet_group = true

  enable_nat_gateway   = true
  single_nat_gateway   = var.single_nat_gateway
  enable_dns_hostnames = true
  enable_dns_support   = true

  public_subnet_tags = {
    "kubernetes.io/role/elb" = 1
  }
  private_subnet_tags = {
    "kubernetes.io/role/internal-elb" = 1
  }
}

# Image bytes to and from S3 stay on the AWS network instead of paying for NAT.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = module.vpc.vpc_id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = module.vpc.private_route_table_ids
}

# PostgreSQL and Redis accept connections from the EKS nodes (where the pods run) and nothing else.
locals {
  data_store_ports = {
    postgres = 5432
    redis    = 6379
  }
}

resource "aws_security_group" "data_store" {
  for_each = local.data_store_ports

  name_prefix = "${local.name}-${each.key}-"
  description = "${each.key}, from the EKS nodes only"
  vpc_id      = module.vpc.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "data_store_from_nodes" {
  for_each = local.data_store_ports

  description                  = "${each.key} from the EKS nodes"
  security_group_id            = aws_security_group.data_store[each.key].id
  referenced_security_group_id = module.eks.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}
