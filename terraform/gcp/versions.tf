terraform {
  # Terraform >= 1.0 or OpenTofu, hashicorp/google 5.12 through current releases (5.12
  # added the service networking connection's deletion_policy, which Cloud SQL needs to
  # be destroyed cleanly: see databases.tf).
  required_version = ">= 1.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.12"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.0"
    }
  }
}

provider "google" {
  project     = var.gcp_project
  region      = var.region
  credentials = var.credentials_file == null ? null : file(pathexpand(var.credentials_file))
}
