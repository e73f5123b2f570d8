module "eks" {
  # checkov:skip=CKV_TF_1: Terraform Registry module pinned by version; commit hashes apply to git sources only
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.24"

  cluster_name    = local.name
  cluster_version = var.eks_version

  cluster_endpoint_public_access           = true
  cluster_endpoint_public_access_cidrs     = var.cluster_endpoint_public_access_cidrs
  enable_cluster_creator_admin_permissions = true
  enable_irsa                              = true

  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets

  # Every control-plane log type, into /aws/eks/<cluster>/cluster: encrypted with our key and
  # kept for a bounded time (audit logs are the bulk of the volume and the bill).
  cluster_enabled_log_types              = local.control_plane_log_types
  create_cloudwatch_log_group            = true
  cloudwatch_log_group_retention_in_days = var.control_plane_log_retention_days
  cloudwatch_log_group_kms_key_id        = aws_kms_key.observability.arn

  cluster_addons = {
    coredns    = {}
    kube-proxy = {}
    # The resource metrics API (kubectl top, the roles' HorizontalPodAutoscalers); the EKS
    # community add-on, so AWS keeps it matched to the cluster version.
    metrics-server = {}
    vpc-cni = {
      before_compute = true
      # The roost NetworkPolicies are enforced only with this on.
      configuration_values = jsonencode({ enableNetworkPolicy = "true" })
    }
  }

  # EKS tags a managed node group's Auto Scaling group with k8s.io/cluster-autoscaler/enabled
  # and k8s.io/cluster-autoscaler/<cluster>: the Cluster Autoscaler discovers it by those tags
  # and may only resize groups that carry them (autoscaling.tf).
  eks_managed_node_groups = {
    default = {
      instance_types = var.node_instance_types
      capacity_type  = "ON_DEMAND"
      min_size       = var.node_min_size
      max_size       = var.node_max_size
      desired_size   = var.node_desired_size
    }
  }

  # CI deploys into the roost namespace and applies alert rules in monitoring; nothing else.
  access_entries = {
    ci = {
      principal_arn = aws_iam_role.ci.arn
      policy_associations = {
        namespaces = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy"
          access_scope = {
            type       = "namespace"
            namespaces = [var.k8s_namespace, "monitoring"]
          }
        }
      }
    }
  }
}

locals {
  control_plane_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
}
