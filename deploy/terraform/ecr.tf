# One repository for the one image. Tags are immutable: a release tag always means the same
# bytes, which is what makes `kubectl rollout undo` trustworthy.

resource "aws_ecr_repository" "roost" {
  # checkov:skip=CKV_AWS_136: AES256 with the AWS-managed key; a CMK would add key policies without a reader to keep out
  count = var.create_ecr_repository ? 1 : 0

  name                 = "roost"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "AES256"
  }
}

data "aws_ecr_repository" "roost" {
  count = var.create_ecr_repository ? 0 : 1

  name = "roost"
}

locals {
  ecr_repository_arn = var.create_ecr_repository ? aws_ecr_repository.roost[0].arn : data.aws_ecr_repository.roost[0].arn
  ecr_repository_url = var.create_ecr_repository ? aws_ecr_repository.roost[0].repository_url : data.aws_ecr_repository.roost[0].repository_url
}

resource "aws_ecr_lifecycle_policy" "roost" {
  count = var.create_ecr_repository ? 1 : 0

  repository = aws_ecr_repository.roost[0].name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged layers of failed or superseded builds"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = 7
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the last releases for rollbacks"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["v"]
          countType     = "imageCountMoreThan"
          countNumber   = var.image_retention_count
        }
        action = { type = "expire" }
      },
    ]
  })
}
