#cloud-config
# Pilot Server bootstrap. Docker is reachable over SSH (default: the socket stays local) or,
# with docker_access = "mtls", on 2376 with --tlsverify only. Plain TCP (2375) is never used.
package_update: true
packages:
  - docker.io
  - ca-certificates
write_files:
  # The apps' containers never reach the cloud's metadata service, where the server's own
  # credentials are (its backups, its agent's grants): Pilot's agent asks from the host's
  # network, which this spares. Docker keeps DOCKER-USER's rules while it runs; the drop-in
  # puts the rule back each time Docker starts, runcmd once now.
  - path: /usr/local/sbin/pilot-metadata-guard
    permissions: "0755"
    content: |
      #!/bin/sh
      # Docker takes the chain as it finds it (and jumps to it from FORWARD).
      iptables -N DOCKER-USER 2>/dev/null
      iptables -C DOCKER-USER -d 169.254.169.254/32 -j REJECT 2>/dev/null ||
        iptables -I DOCKER-USER -d 169.254.169.254/32 -j REJECT
  - path: /etc/systemd/system/docker.service.d/pilot-metadata.conf
    permissions: "0644"
    content: |
      [Service]
      ExecStartPost=/usr/local/sbin/pilot-metadata-guard
%{ if docker_access == "mtls" ~}
  - path: /etc/systemd/system/docker.service.d/pilot-tls.conf
    permissions: "0644"
    content: |
      # Pilot: Docker on 2376 for clients with a certificate from the project's CA only.
      [Service]
      ExecStart=
      ExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tlsverify --tlscacert=/etc/docker/pilot-tls/ca.pem --tlscert=/etc/docker/pilot-tls/server-cert.pem --tlskey=/etc/docker/pilot-tls/server-key.pem
%{ endif ~}
runcmd:
  - usermod -aG docker ubuntu
%{ if docker_access == "mtls" ~}
  # Pilot copies the server certificate and key here over SSH, then restarts Docker.
  - install -d -m 0700 /etc/docker/pilot-tls
  - systemctl daemon-reload
  - systemctl enable docker
%{ else ~}
  - systemctl enable --now docker
%{ endif ~}
  - /usr/local/sbin/pilot-metadata-guard
%{ if engine == "waypoint" ~}
  # Waypoint server and runner, from HashiCorp's apt repository, on the local Docker engine.
  - curl -fsSL https://apt.releases.hashicorp.com/gpg | gpg --dearmor -o /usr/share/keyrings/hashicorp.gpg
  - echo "deb [signed-by=/usr/share/keyrings/hashicorp.gpg] https://apt.releases.hashicorp.com $(lsb_release -cs) main" > /etc/apt/sources.list.d/hashicorp.list
  - apt-get update && apt-get install -y waypoint
  - waypoint install -platform=docker -accept-tos
%{ endif ~}
