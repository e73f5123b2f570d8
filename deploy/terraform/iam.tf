# Two identities, each with only what it uses.
# - app: every roost pod (service account roost/roost, via IRSA): the two image buckets, the
#   two job queues, the backups bucket and its key (the backup CronJob runs as this account too),
#   and one CloudWatch read (queue age). No Secrets Manager; the only "*" is that read, which
#   has no resource-level permissions.
# - ci:  GitHub Actions of this repository (OIDC, no stored keys): push the image, find the
#   cluster. Its Kubernetes rights are the EKS access entry in eks.tf.

# --- IRSA trust: the app and the Cluster Autoscaler (autoscaling.tf)

# Every IRSA role trusts one Kubernetes service account through the cluster's OIDC provider:
# one trust policy, one instance per role (key: the role's name in this file's resources).
locals {
  irsa_service_accounts = {
    app                = "system:serviceaccount:${var.k8s_namespace}:${var.k8s_service_account}"
    cluster_autoscaler = "system:serviceaccount:${local.cluster_autoscaler_namespace}:${local.cluster_autoscaler_service_account}"
  }
}

data "aws_iam_policy_document" "irsa_assume" {
  for_each = local.irsa_service_accounts

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [module.eks.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:sub"
      values   = [each.value]
    }

    condition {
      test     = "StringEquals"
      variable = "${module.eks.oidc_provider}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

# --- app (IRSA)

resource "aws_iam_role" "app" {
  name               = "${local.name}-app"
  description        = "Roost pods (IRSA): image buckets and job queues"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume["app"].json
}

data "aws_iam_policy_document" "app" {
  statement {
    sid       = "ListImageBuckets"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.source.arn, aws_s3_bucket.thumbnails.arn]
  }

  # Originals are written once by the upload API and read by the workers; never deleted here.
  statement {
    sid       = "SourceImages"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.source.arn}/*"]
  }

  statement {
    sid       = "Thumbnails"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.thumbnails.arn}/*"]
  }

  statement {
    sid = "JobQueues"
    actions = [
      "sqs:SendMessage",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = concat(
      [for queue in aws_sqs_queue.jobs : queue.arn],
      [for queue in aws_sqs_queue.dead_letters : queue.arn],
    )
  }

  # `roost backup --to s3://<backups>/roost --keep 14` writes, lists and prunes; `roost
  # restore` reads. Both run as this service account (components/backup).
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.backups.arn]
  }

  statement {
    sid       = "Backups"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.backups.arn}/*"]
  }

  statement {
    sid       = "BackupsKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.backups.arn]
  }

  # The worker reads its queue's ApproximateAgeOfOldestMessage from CloudWatch
  # (src/roost/infra/queue.py). GetMetricStatistics has no resource-level permissions and no
  # condition keys: "*" is the only valid resource, and it is read-only.
  statement {
    sid       = "QueueAgeMetric"
    actions   = ["cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "app" {
  name   = "roost-app"
  role   = aws_iam_role.app.id
  policy = data.aws_iam_policy_document.app.json
}

# --- ci (GitHub OIDC)

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # AWS verifies GitHub's certificate itself; the list is required by the API, not used.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

data "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 0 : 1

  url = "https://token.actions.githubusercontent.com"
}

locals {
  github_oidc_provider_arn = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : data.aws_iam_openid_connect_provider.github[0].arn
}

data "aws_iam_policy_document" "ci_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # Release tags push the image; the environment's deploy job (behind its approval) deploys.
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:ref:refs/tags/v*",
        "repo:${var.github_repository}:environment:${var.github_environment}",
      ]
    }
  }
}

resource "aws_iam_role" "ci" {
  name               = "${local.name}-ci"
  description        = "GitHub Actions: push the roost image, deploy to ${local.name}"
  assume_role_policy = data.aws_iam_policy_document.ci_assume.json
}

data "aws_iam_policy_document" "ci" {
  # GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPushAndPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [local.ecr_repository_arn]
  }

  statement {
    sid       = "FindCluster"
    actions   = ["eks:DescribeCluster"]
    resources = [module.eks.cluster_arn]
  }
}

resource "aws_iam_role_policy" "ci" {
  name   = "roost-ci"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci.json
}
