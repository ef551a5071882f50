# -*- coding: utf-8 -*-
# Copyright: contributors to exchange.transport_tls
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The module is the action plugin plugins/action/connector_tls_rollback.py and its documentation
# is connector_tls_rollback.yml beside this file. This stub only lets Ansible find the module by its
# name: ansible-core does not list a module whose only file is a .yml (docs/development.md).
