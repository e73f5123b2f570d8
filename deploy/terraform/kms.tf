# One customer-managed key for operational telemetry: the EKS control-plane log group and the
# alarm topic (CloudWatch alarms and AWS Budgets publish to it). The backups have their own key
# (backups.tf): who may read backups is a different question from who may read alarms.

data "aws_iam_policy_document" "observability_key" {
  # checkov:skip=CKV_AWS_111: a key policy: Resource "*" is this key alone, and the account-root statement is AWS's default (IAM decides who uses the key)
  # checkov:skip=CKV_AWS_356: a key policy: Resource "*" is this key alone
  # checkov:skip=CKV_AWS_109: a key policy: the account-root statement is AWS's default key policy, administration stays with the account's IAM
  # The account administers the key through IAM, as for every other resource.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts only this account's log groups of this region with it.
  statement {
    sid = "CloudWatchLogs"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:DescribeKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:aws:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*"]
    }
  }

  # Alarms and budget notifications are published to the encrypted topic by these services.
  statement {
    sid       = "AlarmPublishers"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "budgets.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "observability" {
  description             = "${local.name}: EKS control-plane logs and the alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.observability_key.json
}

resource "aws_kms_alias" "observability" {
  name          = "alias/${local.name}-observability"
  target_key_id = aws_kms_key.observability.key_id
}
