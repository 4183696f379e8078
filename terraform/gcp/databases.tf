# Databases with on = "cloud-sql" in pilot.toml (see docs/databases.md): PostgreSQL on Cloud
# SQL, on a private address in the server's network (private services access). No public
# address, TLS only, automated daily backups with point-in-time recovery, deletion
# protection, and storage grown by Cloud SQL up to its limit. Nothing here without one.
#
# The network holds only the Pilot Server, so "reachable from the server only" is the
# network itself: Cloud SQL gets no public address and no authorized network.

variable "databases" {
  description = "Cloud SQL databases by pilot.toml name (Pilot fills it from [[databases]] with on = \"cloud-sql\")."
  type = map(object({
    version      = string # POSTGRES_16: the major version; Cloud SQL applies minor ones
    tier         = string
    disk_gb      = number
    max_disk_gb  = number
    backups_kept = number
  }))
  default = {}
}

variable "database_passwords" {
  description = "Password of each database's pilot user (Pilot writes them in a 0600 file beside the inputs)."
  type        = map(string)
  sensitive   = true
  default     = {}
}

locals {
  with_databases = length(var.databases) > 0
}

resource "google_project_service" "databases" {
  for_each = local.with_databases ? toset(["sqladmin.googleapis.com", "servicenetworking.googleapis.com"]) : toset([])
  project  = var.gcp_project
  service  = each.value
  # Other things in the GCP project may use them: switching them off is not Pilot's call.
  disable_on_destroy = false
}

# The range Google's side of the peering takes its addresses from.
resource "google_compute_global_address" "databases" {
  count         = local.with_databases ? 1 : 0
  name          = "${local.name}-databases"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = 20
  network       = google_compute_network.pilot.id
}

resource "google_service_networking_connection" "databases" {
  count                   = local.with_databases ? 1 : 0
  network                 = google_compute_network.pilot.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.databases[0].name]
  # Google releases the peering some minutes after the last instance goes; removing it
  # before then fails. The network's own deletion removes it.
  deletion_policy = "ABANDON"
  depends_on      = [google_project_service.databases]
}

# An instance name cannot be used again for a week after its deletion: a suffix lets a
# project's server be destroyed and made again the same day.
resource "random_id" "database" {
  for_each    = var.databases
  byte_length = 2
}

resource "google_sql_database_instance" "database" {
  for_each = var.databases

  name             = "${local.name}-${each.key}-${random_id.database[each.key].hex}"
  region           = var.region
  database_version = each.value.version
  # Pilot's `server destroy --drop-database NAME` lifts Cloud SQL's own protection (below)
  # once the database was named and its final export taken; Terraform's flag would need
  # an extra apply first, and guards nothing the API's does not.
  deletion_protection = false

  settings {
    tier                        = each.value.tier
    edition                     = "ENTERPRISE"
    disk_type                   = "PD_SSD"
    disk_size                   = each.value.disk_gb
    disk_autoresize             = true
    disk_autoresize_limit       = each.value.max_disk_gb
    deletion_protection_enabled = true
    user_labels                 = merge(local.labels, { "pilot-database" = each.key })

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.pilot.id
      ssl_mode        = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "03:00"
      point_in_time_recovery_enabled = true
      # Cloud SQL wants more backups kept than days of log: pilot.toml keeps at least 2.
      transaction_log_retention_days = min(7, each.value.backups_kept - 1)
      backup_retention_settings {
        retained_backups = each.value.backups_kept
        retention_unit   = "COUNT"
      }
    }
  }

  depends_on = [google_service_networking_connection.databases]
}

resource "google_sql_user" "pilot" {
  for_each = var.databases
  instance = google_sql_database_instance.database[each.key].name
  name     = "pilot"
  password = var.database_passwords[each.key]
  # A user owning objects cannot be dropped; it goes with its instance.
  deletion_policy = "ABANDON"

  lifecycle {
    # Set once: a teammate without .pilot/databases/NAME.password must not reset it under
    # the apps that use it.
    ignore_changes = [password]
  }
}

# `server destroy --drop-database NAME` exports each database to the state bucket before
# it goes: the instance's own service account may write objects under backups/NAME/ there,
# and nothing else.
resource "google_storage_bucket_iam_member" "database_exports" {
  for_each = var.state_bucket == null ? {} : var.databases
  bucket   = var.state_bucket
  role     = "roles/storage.objectAdmin"
  member   = "serviceAccount:${google_sql_database_instance.database[each.key].service_account_email_address}"

  condition {
    title       = "final-export-${each.key}"
    description = "Objects under backups/${each.key}/ only"
    expression  = "resource.name.startsWith(\"projects/_/buckets/${var.state_bucket}/objects/backups/${each.key}/\")"
  }
}
