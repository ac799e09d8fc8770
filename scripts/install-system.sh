#!/usr/bin/env bash
# Debian/Ubuntu packages every variant needs, and the notebook user.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# An architecture without a platform file stops here, with one line (scripts/platforms).
# shellcheck source=scripts/platform.sh
. "$(dirname "$0")/platform.sh"

# No manuals, docs or translations in the image (licences stay): ~100 MB.
cat >/etc/dpkg/dpkg.cfg.d/01-deepdocker-slim <<'CFG'
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/en*
CFG

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  ca-certificates python3 python3-venv python3-dev build-essential \
  openssh-server openssh-client \
  procps less git curl bzip2 unzip locales tzdata \
  sudo libnss-wrapper >/dev/null

# Host keys are made per container at first start, never baked into the image.
rm -f /etc/ssh/ssh_host_*

sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' /etc/locale.gen && locale-gen >/dev/null

# The notebook user (docker-stacks' names). An existing UID (ubuntu:24.04 ships 'ubuntu'
# as 1000) gives way: the image's user is NB_USER.
if existing=$(getent passwd "$NB_UID" | cut -d: -f1) && [ "$existing" != "$NB_USER" ]; then
  userdel -r "$existing" 2>/dev/null || userdel "$existing"
fi
getent group "$NB_GID" >/dev/null || groupadd -g "$NB_GID" "$NB_USER"
useradd -m -s /bin/bash -u "$NB_UID" -g "$NB_GID" "$NB_USER"
# '*': no password, yet not locked ('!'), which sshd would refuse even for a key.
usermod -p '*' "$NB_USER"
# A member of `users` by name too, so it keeps the group's files (home, /opt/venv, R's site
# library) whatever primary GID a start gives it; an arbitrary UID gets them with --group-add users.
usermod -aG users "$NB_USER"
# The account an NB_USER of a new name renames (entrypoint/users.py), as docker-stacks does.
echo "$NB_USER" >/usr/local/lib/deepdocker/image-user
# The home is the group's, writable by it, new folders inheriting it (setgid): nothing needs a
# recursive chown at start. A root start takes the group's write bit off the folder itself
# (sshd refuses keys under a group-writable home).
chgrp -R users "/home/$NB_USER"
chmod -R g+w "/home/$NB_USER"
chmod 2775 "/home/$NB_USER"
# docker-stacks' startup hook folders (entrypoint/hooks.py).
mkdir -p /usr/local/bin/start-notebook.d /usr/local/bin/before-notebook.d

# The original image's shared folder stays valid; /root only lets others pass through.
mkdir -p /root/sharedfolder
chown "$NB_UID:$NB_GID" /root/sharedfolder
# Sticky and open to all, like /tmp, while nothing is mounted on it: an arbitrary
# `docker run --user` UID can write there too, each file staying its writer's.
chmod 1777 /root/sharedfolder
chmod 0711 /root
ln -s /root/sharedfolder "/home/$NB_USER/sharedfolder"

apt-get clean
rm -rf /var/lib/apt/lists/*
