"""pyroute2 finds its link-kind plugins (vlan, vxlan, bond, ...) and netlink message classes
by walking its package at runtime, which static analysis cannot see: collect every submodule
(its __init__ imports most of the package eagerly anyway). Only Linux's dockerd needs it."""

from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("pyroute2", on_error="ignore")
datas = copy_metadata("pyroute2")
