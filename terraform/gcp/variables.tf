variable "project" {
  description = "Pilot project name; prefixes every resource."
  type        = string
}

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

variable "allowed_cidrs" {
  description = "Networks allowed to reach SSH (and Docker/Waypoint ports). Never empty."
  type        = list(string)

  validation {
    condition     = length(var.allowed_cidrs) > 0
    error_message = "The allowed_cidrs list must name at least one network."
  }
}

variable "ssh_public_key" {
  description = "OpenSSH public key Pilot generated (its private half stays in .pilot/keys)."
  type        = string
}

variable "docker_access" {
  description = "ssh (Docker over SSH, no extra port) or mtls (TLS client certificates on 2376)."
  type        = string
  default     = "ssh"

  validation {
    condition     = contains(["ssh", "mtls"], var.docker_access)
    error_message = "The docker_access value must be ssh or mtls; plain TCP is never offered."
  }
}

variable "engine" {
  description = "pilot, or waypoint (opens Waypoint's 9701/9702 to allowed_cidrs)."
  type        = string
  default     = "pilot"
}

variable "subnet_cidr" {
  description = "Address range of the server's subnetwork."
  type        = string
  default     = "10.42.1.0/24"
}
