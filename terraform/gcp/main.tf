locals {
  name = "pilot-${var.project}"
  labels = {
    "pilot-project" = var.project
    "managed-by"    = "pilot-tui"
  }
  # Only SSH, plus Docker's TLS port with mtls and Waypoint's ports with that engine.
  # Plain-TCP Docker (2375) is never opened.
  ports = concat(
    ["22"],
    var.docker_access == "mtls" ? ["2376"] : [],
    var.engine == "waypoint" ? ["9701", "9702"] : [],
  )
  zone = "${var.region}-b"
  # What the server itself may do: write its logs and metrics, pull images. Nothing else.
  server_roles = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/artifactregistry.reader",
  ]
}

resource "google_compute_network" "pilot" {
  name                    = local.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "pilot" {
  name          = "${local.name}-subnet"
  network       = google_compute_network.pilot.id
  region        = var.region
  ip_cidr_range = var.subnet_cidr
}

resource "google_compute_firewall" "server" {
  name          = "${local.name}-server"
  network       = google_compute_network.pilot.name
  direction     = "INGRESS"
  source_ranges = var.allowed_cidrs
  target_tags   = ["pilot-server"]

  allow {
    protocol = "tcp"
    ports    = local.ports
  }
}

# The apps, through Pilot's reverse proxy: meant for the public.
resource "google_compute_firewall" "web" {
  name          = "${local.name}-web"
  network       = google_compute_network.pilot.name
  direction     = "INGRESS"
  source_ranges = var.web_cidrs
  target_tags   = ["pilot-server"]

  allow {
    protocol = "tcp"
    ports    = [for p in var.web_ports : tostring(p)]
  }
}

resource "google_service_account" "server" {
  # account_id: 6-30 characters, so long project names are shortened.
  account_id   = "${trimsuffix(substr(local.name, 0, 25), "-")}-srv"
  display_name = "Pilot Server ${var.project}"
}

resource "google_project_iam_member" "server" {
  for_each = toset(local.server_roles)
  project  = var.gcp_project
  role     = each.value
  member   = "serviceAccount:${google_service_account.server.email}"
}

# The backup agent on the server (a container; see docs/databases.md) writes the databases'
# backups under backups/ of the project's state bucket with the server's service account:
# object actions there only (an IAM condition on the object's name; the state bucket has
# uniform access), listing only under backups/ (the condition on the list's prefix), never
# the Terraform state, and no key stored on the server.
resource "google_project_iam_custom_role" "backups" {
  count   = var.state_bucket == null ? 0 : 1
  project = var.gcp_project
  role_id = "${replace(local.name, "-", "_")}_backups"
  title   = "Pilot backups of ${var.project}"
  permissions = [
    "storage.objects.create",
    "storage.objects.get",
    "storage.objects.delete",
    "storage.objects.list",
  ]
}

resource "google_storage_bucket_iam_member" "server_backups" {
  count  = var.state_bucket == null ? 0 : 1
  bucket = var.state_bucket
  role   = google_project_iam_custom_role.backups[0].id
  member = "serviceAccount:${google_service_account.server.email}"

  condition {
    title       = "backups-only"
    description = "Objects under backups/, and listing under backups/ only"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/backups/\") || (resource.name == \"projects/_/buckets/${var.state_bucket}\" && api.getAttribute(\"storage.googleapis.com/objectListPrefix\", \"\").startsWith(\"backups/\"))"
  }
}

# The agent on the server removes Cloud Run previews past their TTL (README, Cloud Run
# previews): it may list the services (this role: run.services.list and nothing else on
# the project; the listing shows each service's settings, plain env values included, never
# a Secret Manager value), and delete a preview because each preview's deploy grants it
# the pruner role below on that preview's own service. No other service can be changed or
# removed by it.
resource "google_project_iam_custom_role" "previews" {
  count       = var.cloud_run_previews ? 1 : 0
  project     = var.gcp_project
  role_id     = "${replace(local.name, "-", "_")}_previews"
  title       = "Pilot previews of ${var.project}: list Cloud Run services"
  permissions = ["run.services.list"]
}

resource "google_project_iam_member" "server_previews" {
  count   = var.cloud_run_previews ? 1 : 0
  project = var.gcp_project
  role    = google_project_iam_custom_role.previews[0].id
  member  = "serviceAccount:${google_service_account.server.email}"
}

# ... and reads the deploy leases in the state bucket (pilot/locks/, an IAM condition on the
# object's name; no listing), so a preview being deployed is not removed under its deploy.
# A lease says who deploys and since when, nothing else.
resource "google_storage_bucket_iam_member" "server_preview_leases" {
  count  = var.cloud_run_previews && var.state_bucket != null ? 1 : 0
  bucket = var.state_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.server.email}"

  condition {
    title       = "deploy-leases-only"
    description = "Objects under pilot/locks/ only"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/pilot/locks/\")"
  }
}

# Granted by each preview's deploy on that preview's service alone (never on the project).
resource "google_project_iam_custom_role" "preview_pruner" {
  count       = var.cloud_run_previews ? 1 : 0
  project     = var.gcp_project
  role_id     = "${replace(local.name, "-", "_")}_preview_pruner"
  title       = "Pilot previews of ${var.project}: remove one Cloud Run preview"
  permissions = ["run.services.delete"]
}

resource "google_compute_address" "server" {
  name   = "${local.name}-server"
  region = var.region
}

resource "google_compute_instance" "server" {
  name         = "${local.name}-server"
  machine_type = var.machine_type
  zone         = local.zone
  tags         = ["pilot-server"]
  labels       = local.labels

  boot_disk {
    initialize_params {
      image = "ubuntu-os-cloud/ubuntu-2404-lts-amd64"
      size  = 30
    }
  }

  network_interface {
    subnetwork = google_compute_subnetwork.pilot.id
    access_config {
      nat_ip = google_compute_address.server.address
    }
  }

  metadata = {
    ssh-keys               = "ubuntu:${var.ssh_public_key}"
    block-project-ssh-keys = "true"
    user-data = templatefile("${path.module}/cloud-init.yaml.tpl", {
      docker_access = var.docker_access
      engine        = var.engine
    })
  }

  service_account {
    email  = google_service_account.server.email
    scopes = ["cloud-platform"] # access is limited by the roles above, not by scopes
  }

  shielded_instance_config {
    enable_secure_boot = true
  }
}
