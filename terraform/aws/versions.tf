terraform {
  # Terraform >= 1.0 or OpenTofu; hashicorp/aws 3.39 (the oldest tested) through current 5.x.
  required_version = ">= 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39"
    }
  }
}

provider "aws" {
  region  = var.region
  profile = var.aws_profile

  default_tags {
    tags = local.tags
  }
}
