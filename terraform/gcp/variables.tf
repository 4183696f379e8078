variable "gcp_project" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Google Cloud region."
  type        = string
}

variable "credentials_file" {
  description = "Path to a service-account key file; null uses Application Default Credentials."
  type        = string
  default     = null
}

variable "machine_type" {
  description = "Machine type of the Pilot Server."
  type        = string
  default     = "e2-small"
}

variable "subnet_cidr" {
  description = "Address range of the server's subnetwork."
  type        = string
  default     = "10.42.1.0/24"
}

variable "cloud_run_previews" {
  description = "An app runs previews on Cloud Run: the server's service account may list the region's services, for its agent to remove expired previews."
  type        = bool
  default     = false
}

variable "state_bucket" {
  description = "The project's GCS state bucket: the server's service account may write its backups/ (null: no grant)."
  type        = string
  default     = null
}
