variable "environment" {
  description = "Environment name (staging, prod); part of every resource name."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment: lowercase letters, digits and dashes, at most 16 characters."
  }
}

variable "region" {
  description = "AWS region."
  type        = string
  default     = "eu-west-1"
}

# --- network

variable "vpc_cidr" {
  description = "VPC address range (a /16); ROOST_TRUSTED_PROXIES in the overlay must match."
  type        = string
  default     = "10.20.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper, not zone-redundant)."
  type        = bool
  default     = false
}

# --- Kubernetes

variable "eks_version" {
  description = "Kubernetes version of the EKS control plane."
  type        = string
  default     = "1.30"
}

variable "cluster_endpoint_public_access_cidrs" {
  description = "Who may reach the Kubernetes API (CI runners and operators)."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "node_min_size" {
  type    = number
  default = 3
}

variable "node_max_size" {
  type    = number
  default = 10
}

variable "node_desired_size" {
  type    = number
  default = 3
}

variable "k8s_namespace" {
  description = "Namespace the roost overlays deploy into."
  type        = string
  default     = "roost"
}

variable "k8s_service_account" {
  description = "Service account the roost pods run as (deploy/kubernetes/base/serviceaccount.yaml)."
  type        = string
  default     = "roost"
}

variable "control_plane_log_retention_days" {
  description = "Days the EKS control-plane logs (api, audit, authenticator, controllerManager, scheduler) are kept."
  type        = number
  default     = 365
}

variable "cluster_autoscaler_chart_version" {
  description = "Version of the kubernetes/autoscaler cluster-autoscaler Helm chart."
  type        = string
  default     = "9.43.2"
}

variable "cluster_autoscaler_image_tag" {
  description = "Cluster Autoscaler image; its minor version must match eks_version."
  type        = string
  default     = "v1.30.2"
}

# --- PostgreSQL

variable "db_instance_class" {
  type    = string
  default = "db.t4g.medium"
}

variable "db_allocated_storage" {
  description = "GiB at creation; storage autoscaling goes up to 5x."
  type        = number
  default     = 50
}

variable "db_multi_az" {
  type    = bool
  default = true
}

variable "db_backup_retention_days" {
  type    = number
  default = 14
}

variable "db_deletion_protection" {
  type    = bool
  default = true
}

# --- Redis

variable "redis_node_type" {
  description = "ElastiCache node type; it fixes maxmemory (cache.t4g.micro: about 0.5 GiB, the size the alerts assume)."
  type        = string
  default     = "cache.t4g.micro"
}

variable "redis_replicas" {
  description = "Read replicas; at least 1 gives Multi-AZ automatic failover."
  type        = number
  default     = 1
}

variable "redis_snapshot_retention_days" {
  type    = number
  default = 7
}

# --- jobs

variable "broker_namespace" {
  description = "ROOST_BROKER_NAMESPACE: the prefix of the job queue names the broker looks up."
  type        = string
  default     = "roost"
}

variable "queue_visibility_timeout_seconds" {
  description = "Longer than the per-job time limit, so a slow job is not handed to a second worker."
  type        = number
  default     = 300
}

variable "queue_max_receive_count" {
  description = "Deliveries before SQS parks a message in the dead-letter queue (a crash loop on one message)."
  type        = number
  default     = 5
}

# --- images and CI

variable "create_ecr_repository" {
  description = "Create the `roost` ECR repository here; false reuses one made by another environment of the same account."
  type        = bool
  default     = true
}

variable "image_retention_count" {
  description = "Release images (tags v*) kept in ECR."
  type        = number
  default     = 50
}

variable "github_repository" {
  description = "owner/name of the repository whose workflows may push images and deploy."
  type        = string
}

variable "github_environment" {
  description = "GitHub environment of this deployment's CD job (staging, production)."
  type        = string
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC provider; false when another stack already did."
  type        = bool
  default     = true
}

# --- edge (CloudFront + WAF, edge.tf)

variable "edge_origin_domain" {
  description = "Host name of the ingress load balancer (kubectl -n ingress-nginx get svc); empty: no CloudFront or WAF yet."
  type        = string
  default     = ""
}

variable "edge_aliases" {
  description = "Public host names CloudFront answers for: the overlay's ingress hosts."
  type        = list(string)
  default     = []
}

variable "edge_certificate_arn" {
  description = "ACM certificate in us-east-1 covering edge_aliases."
  type        = string
  default     = ""
}

variable "edge_rate_limit_per_5_minutes" {
  description = "Requests one client IP may send per 5 minutes before WAF blocks it."
  type        = number
  default     = 2000

  validation {
    condition     = var.edge_rate_limit_per_5_minutes >= 100
    error_message = "edge_rate_limit_per_5_minutes: WAF's minimum is 100."
  }
}

variable "edge_price_class" {
  description = "CloudFront price class (edge locations used)."
  type        = string
  default     = "PriceClass_100"
}

variable "edge_log_retention_days" {
  description = "Days the WAF request logs are kept."
  type        = number
  default     = 90
}

# --- alarms and cost

variable "alarm_emails" {
  description = "Addresses subscribed to the alarm topic (CloudWatch alarms, budget alerts); each confirms once by e-mail."
  type        = list(string)
  default     = []
}

variable "dead_letter_max_age_seconds" {
  description = "Alarm when a dead-letter message is older than this: nobody has looked at it."
  type        = number
  default     = 86400
}

variable "monthly_budget_usd" {
  description = "Monthly cost budget of this environment in USD; alerts at 80% actual and 100% forecast."
  type        = number
}
