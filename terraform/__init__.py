"""Terraform templates per server home (aws/, gcp/, ...) and cloud-init, shipped as package
data and installed as ``pilot_tui.terraform``. The templates arrive with the provisioning
work; this package marks where they live so wheels and editable installs both carry them."""
