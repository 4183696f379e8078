terraform {
  # Terraform >= 1.0 or OpenTofu, hashicorp/google 4.x through current releases.
  required_version = ">= 1.0"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 4.0"
    }
  }
}

provider "google" {
  project     = var.gcp_project
  region      = var.region
  credentials = var.credentials_file == null ? null : file(pathexpand(var.credentials_file))
}
