# Node autoscaling: the Cluster Autoscaler adds nodes when pods (the HPAs' new replicas) do not
# fit and removes idle ones, within the node group's min/max. It runs in kube-system under its
# own service account with its own IAM role (IRSA; the trust policy is iam.tf's irsa_assume):
# the upstream least-privilege policy (kubernetes/autoscaler,
# cluster-autoscaler/cloudprovider/aws/README.md), with the two actions that change anything
# limited to this cluster's tagged Auto Scaling groups.
# Pod metrics for the HPAs come from the metrics-server add-on (eks.tf).

locals {
  cluster_autoscaler_namespace       = "kube-system"
  cluster_autoscaler_service_account = "cluster-autoscaler"
}

resource "aws_iam_role" "cluster_autoscaler" {
  name               = "${local.name}-cluster-autoscaler"
  description        = "Cluster Autoscaler (IRSA): resize ${local.name}'s tagged node groups"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["cluster_autoscaler"].json
}

data "aws_iam_policy_document" "cluster_autoscaler" {
  # Describe/Get calls have no resource-level permissions: "*" is the only valid resource.
  statement {
    sid = "DiscoverNodeGroups"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeAutoScalingInstances",
      "autoscaling:DescribeLaunchConfigurations",
      "autoscaling:DescribeScalingActivities",
      "autoscaling:DescribeTags",
      "ec2:DescribeImages",
      "ec2:DescribeInstanceTypes",
      "ec2:DescribeLaunchTemplateVersions",
      "ec2:GetInstanceTypesFromInstanceRequirements",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "DescribeThisClustersNodeGroups"
    actions   = ["eks:DescribeNodegroup"]
    resources = ["arn:aws:eks:${var.region}:${data.aws_caller_identity.current.account_id}:nodegroup/${module.eks.cluster_name}/*/*"]
  }

  # Only Auto Scaling groups EKS created for this cluster's managed node groups (name eks-*,
  # tagged as owned by this cluster): another cluster's nodes are out of reach.
  statement {
    sid = "ResizeThisClustersNodeGroups"
    actions = [
      "autoscaling:SetDesiredCapacity",
      "autoscaling:TerminateInstanceInAutoScalingGroup",
    ]
    resources = ["arn:aws:autoscaling:${var.region}:${data.aws_caller_identity.current.account_id}:autoScalingGroup:*:autoScalingGroupName/eks-*"]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/${module.eks.cluster_name}"
      values   = ["owned"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "cluster_autoscaler" {
  name   = "cluster-autoscaler"
  role   = aws_iam_role.cluster_autoscaler.id
  policy = data.aws_iam_policy_document.cluster_autoscaler.json
}

resource "helm_release" "cluster_autoscaler" {
  name       = "cluster-autoscaler"
  repository = "https://kubernetes.github.io/autoscaler"
  chart      = "cluster-autoscaler"
  version    = var.cluster_autoscaler_chart_version
  namespace  = local.cluster_autoscaler_namespace

  values = [yamlencode({
    cloudProvider = "aws"
    awsRegion     = var.region
    autoDiscovery = { clusterName = module.eks.cluster_name }
    # The autoscaler's minor version must match the cluster's (upstream compatibility table).
    image = { tag = var.cluster_autoscaler_image_tag }
    rbac = {
      serviceAccount = {
        create      = true
        name        = local.cluster_autoscaler_service_account
        annotations = { "eks.amazonaws.com/role-arn" = aws_iam_role.cluster_autoscaler.arn }
      }
    }
    extraArgs = {
      # The default node group spans three zones; keep them even as it grows.
      "balance-similar-node-groups" = true
      # The roost pods' emptyDir (/tmp) is scratch space: with the default (true) no node
      # running one could ever be removed. Their PodDisruptionBudgets still pace the moves.
      "skip-nodes-with-local-storage" = false
      "scale-down-unneeded-time"      = "10m"
    }
    resources = {
      requests = { cpu = "100m", memory = "300Mi" }
      limits   = { memory = "600Mi" }
    }
  })]

  # The node group must exist before there is anything to scale or to schedule the pod on.
  depends_on = [module.eks]
}
