"""Make this checkout importable as ansible_collections.exchange.transport_tls.

Run with the venv's own python. Unit tests and the lab import module_utils by
their collection name, as ansible-test does. A .pth file puts the repository's
collections/ directory (a symlink ansible_collections/exchange/transport_tls ->
the repository root) on sys.path, so no install or copy is needed and edits
show at once.
"""
import pathlib
import sysconfig

root = pathlib.Path(__file__).resolve().parents[1]
purelib = pathlib.Path(sysconfig.get_paths()["purelib"])
(purelib / "exchange_transport_tls_checkout.pth").write_text(str(root / "collections") + "\n")
