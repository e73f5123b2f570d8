# Logs and backups: `roost backup` (deploy/kubernetes/components/backup, daily) writes under
# roost/, exported logs go under logs/. Versioned (an overwritten or deleted backup can be
# brought back), encrypted with its own key, private, TLS only. Glacier after 90 days, gone
# after a year: `roost backup --keep 14` prunes the daily copies itself; the lifecycle bounds
# what survives that (old versions, logs).
# The bucket name is the one the overlays' ROOST_BACKUP_URL names: s3://roost-<env>-backups/roost.

data "aws_iam_policy_document" "backups_key" {
  # checkov:skip=CKV_AWS_111: a key policy: Resource "*" is this key alone, and the account-root statement is AWS's default (IAM decides who uses the key)
  # checkov:skip=CKV_AWS_356: a key policy: Resource "*" is this key alone
  # checkov:skip=CKV_AWS_109: a key policy: the account-root statement is AWS's default key policy, administration stays with the account's IAM
  # Who may use the key is decided by IAM (the app role's policy in iam.tf).
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "backups" {
  description             = "${local.name}: logs and backups bucket"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.backups_key.json
}

resource "aws_kms_alias" "backups" {
  name          = "alias/${local.name}-backups"
  target_key_id = aws_kms_key.backups.key_id
}

resource "aws_s3_bucket" "backups" {
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events: the backup job reports its own outcome (metrics, exit code)
  # checkov:skip=CKV_AWS_18: this is the log destination; logging its own access would loop, CloudTrail records the API calls
  # checkov:skip=CKV_AWS_144: one region by decision (docs/adr/0003); RDS snapshots are the second copy of the database
  bucket = "${local.name}-backups"
}

resource "aws_s3_bucket_public_access_block" "backups" {
  bucket                  = aws_s3_bucket.backups.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.backups.arn
    }
    # One data key per bucket rather than per object: far fewer KMS calls for the same key.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "backups" {
  bucket = aws_s3_bucket.backups.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "backups" {
  bucket = aws_s3_bucket.backups.id

  rule {
    id     = "glacier-then-expire"
    status = "Enabled"
    filter {}

    transition {
      days          = 90
      storage_class = "GLACIER"
    }
    expiration {
      days = 365
    }

    noncurrent_version_transition {
      noncurrent_days = 90
      storage_class   = "GLACIER"
    }
    noncurrent_version_expiration {
      noncurrent_days = 365
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.backups]
}

data "aws_iam_policy_document" "backups_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.backups.arn, "${aws_s3_bucket.backups.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "backups" {
  bucket = aws_s3_bucket.backups.id
  policy = data.aws_iam_policy_document.backups_tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.backups]
}
