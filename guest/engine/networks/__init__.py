"""Networks: bridge, host, none; IPAM, name DNS, published ports (issue 5).

What the containers area calls (engine.networks):
- initial_settings(host_config, networking_config) -> NetworkSettings for a created container
  (404 for an unknown network; EndpointsConfig kept under Networks for start).
- await setup_container(container) -> Sandbox before the runtime starts it: .netns_path (None:
  the host's), .hosts_path, .resolv_conf_path, .hostname_path; fills container.network_settings.
  Or in two halves, to overlap the runtime's create: await prepare_container(container) (what
  create needs: netns, addresses, files), then await wired(container) before the runtime's start.
- await teardown_container(container) after it stopped; await remove_container(container) when
  it is deleted; rename_container(container, new_name) on rename.
- await connect(network_ref, container, endpoint_config) / disconnect(network_ref, container,
  force) for /networks/{id}/connect|disconnect (the API module calls these).
"""

from ketch.guest.engine.networks.endpoints import Sandbox
from ketch.guest.engine.networks.service import NetworkService

__all__ = ["NetworkService", "Sandbox"]
