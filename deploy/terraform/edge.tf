# CloudFront in front of the public roles and the frontend's /media, with a WAF web ACL: a
# per-IP rate limit and the AWS managed common and known-bad-inputs rule sets. The origin is the
# ingress load balancer, which exists only once the overlay is applied to the cluster, so this
# file creates nothing until var.edge_origin_domain is set (a second apply; docs/operations.md).
# The viewer Host header goes to the origin unchanged: ingress-nginx routes by it and serves its
# certificate for it, so the aliases are the overlay's public hosts.

locals {
  edge_enabled = var.edge_origin_domain != ""
  edge_origin  = "ingress"
}

# --- WAF (CLOUDFRONT scope lives in us-east-1)

resource "aws_wafv2_web_acl" "edge" {
  count    = local.edge_enabled ? 1 : 0
  provider = aws.us_east_1

  name        = "${local.name}-edge"
  description = "Rate limit and AWS managed rules in front of ${local.name}"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  # One client address sending more than this per 5 minutes is blocked until it slows down;
  # the app's own per-key rate limits (Redis) still apply below it.
  rule {
    name     = "rate-limit-per-ip"
    priority = 0

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.edge_rate_limit_per_5_minutes
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "aws-common"
    priority = 1

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"

        # Image uploads are bodies far above the rule's 8 KB; the app bounds upload size itself
        # (413 with the error envelope). Counted, not blocked.
        rule_action_override {
          name = "SizeRestrictions_BODY"
          action_to_use {
            count {}
          }
        }
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-common"
      sampled_requests_enabled   = true
    }
  }

  # Log4Shell-style payloads and other known exploit inputs.
  rule {
    name     = "aws-known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.name}-aws-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-edge"
    sampled_requests_enabled   = true
  }
}

# WAF logs every request it evaluates: this is the edge's access log. The name prefix
# aws-waf-logs- is required by WAF.
resource "aws_cloudwatch_log_group" "edge_waf" {
  # checkov:skip=CKV_AWS_158: the observability key is regional (var.region); this group must be in us-east-1 and holds request metadata only, with Authorization and Cookie redacted
  # checkov:skip=CKV_AWS_338: request logs are bulky; var.edge_log_retention_days bounds them (90 days covers incident review)
  count    = local.edge_enabled ? 1 : 0
  provider = aws.us_east_1

  name              = "aws-waf-logs-${local.name}"
  retention_in_days = var.edge_log_retention_days
}

resource "aws_wafv2_web_acl_logging_configuration" "edge" {
  count    = local.edge_enabled ? 1 : 0
  provider = aws.us_east_1

  resource_arn            = aws_wafv2_web_acl.edge[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.edge_waf[0].arn]

  redacted_fields {
    single_header {
      name = "authorization"
    }
  }
  redacted_fields {
    single_header {
      name = "cookie"
    }
  }
  redacted_fields {
    single_header {
      name = "x-api-key"
    }
  }
}

# --- CloudFront

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_origin_request_policy" "all_viewer" {
  name = "Managed-AllViewer"
}

data "aws_cloudfront_response_headers_policy" "security_headers" {
  name = "Managed-SecurityHeadersPolicy"
}

resource "aws_cloudfront_distribution" "edge" {
  # checkov:skip=CKV_AWS_86: the WAF logging configuration above records every request; a second access log would duplicate it
  # checkov:skip=CKV_AWS_310: one origin, the ingress load balancer, itself spread over three zones; there is no second origin to fail over to
  # checkov:skip=CKV_AWS_305: an API and app host, not a static site: "/" is served by the frontend role
  # checkov:skip=CKV_AWS_374: the service is not limited by country
  # checkov:skip=CKV2_AWS_47: Log4j payloads are blocked by AWSManagedRulesKnownBadInputsRuleSet (rule aws-known-bad-inputs); the check also demands AWSManagedRulesAnonymousIpList, which would block API clients on cloud hosts and VPNs
  count = local.edge_enabled ? 1 : 0

  comment         = "${local.name}: public roles and /media"
  enabled         = true
  is_ipv6_enabled = true
  http_version    = "http2and3"
  price_class     = var.edge_price_class
  aliases         = var.edge_aliases
  web_acl_id      = aws_wafv2_web_acl.edge[0].arn

  origin {
    origin_id   = local.edge_origin
    domain_name = var.edge_origin_domain

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # Uploads and the optimizer's long requests; CloudFront's maximum without a quota raise.
      origin_read_timeout = 60
    }
  }

  # The roles' APIs and pages: never cached here (per-user, per-key answers), every method,
  # headers, cookies and query strings passed through.
  default_cache_behavior {
    target_origin_id           = local.edge_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security_headers.id
  }

  # The frontend's /media proxy: thumbnails by id, immutable once made, cached at the edge
  # for as long as the origin's Cache-Control allows.
  ordered_cache_behavior {
    path_pattern               = "/media/*"
    target_origin_id           = local.edge_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer.id
    response_headers_policy_id = data.aws_cloudfront_response_headers_policy.security_headers.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.edge_certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  lifecycle {
    precondition {
      condition     = var.edge_certificate_arn != "" && length(var.edge_aliases) > 0
      error_message = "edge_origin_domain is set: also set edge_aliases (the public hosts) and edge_certificate_arn (an ACM certificate for them in us-east-1)."
    }
  }
}
