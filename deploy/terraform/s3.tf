# Image bytes: uploaded originals (versioned: they cannot be made again) and thumbnails (can
# be). Private, encrypted, TLS only. The overlays' ROOST_STORAGE_URL names the source bucket.

resource "aws_s3_bucket" "source" {
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events: uploads enqueue their jobs through the thumbnails API
  # checkov:skip=CKV_AWS_18: only the app role (IRSA) reaches the bucket and CloudTrail records it; no log bucket kept
  # checkov:skip=CKV_AWS_145: SSE-S3 (AES256); a CMK would add key policies without a reader to keep out
  # checkov:skip=CKV_AWS_144: originals are versioned and copied by `roost backup` (docs/operations.md); no second region
  bucket = "${local.name}-source"
}

resource "aws_s3_bucket" "thumbnails" {
  # checkov:skip=CKV2_AWS_62: nothing consumes bucket events: uploads enqueue their jobs through the thumbnails API
  # checkov:skip=CKV_AWS_18: only the app role (IRSA) reaches the bucket and CloudTrail records it; no log bucket kept
  # checkov:skip=CKV_AWS_145: SSE-S3 (AES256); a CMK would add key policies without a reader to keep out
  # checkov:skip=CKV_AWS_144: thumbnails are derived data, made again from the originals
  # checkov:skip=CKV_AWS_21: thumbnails are derived data, made again from the originals; versions would only cost
  bucket = "${local.name}-thumbnails"
}

locals {
  image_buckets = {
    source     = aws_s3_bucket.source
    thumbnails = aws_s3_bucket.thumbnails
  }
}

resource "aws_s3_bucket_public_access_block" "images" {
  for_each = local.image_buckets

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "images" {
  for_each = local.image_buckets

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "images" {
  for_each = local.image_buckets

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.image_buckets

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]

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

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.image_buckets

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.images]
}

resource "aws_s3_bucket_versioning" "source" {
  bucket = aws_s3_bucket.source.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "source" {
  bucket = aws_s3_bucket.source.id

  rule {
    id     = "old-versions-and-abandoned-uploads"
    status = "Enabled"
    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.source]
}

resource "aws_s3_bucket_lifecycle_configuration" "thumbnails" {
  bucket = aws_s3_bucket.thumbnails.id

  rule {
    id     = "abandoned-uploads"
    status = "Enabled"
    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}
