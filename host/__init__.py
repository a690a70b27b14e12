"""`ketch`, the host agent: boots the VM and forwards docker.sock, ports and folders."""
