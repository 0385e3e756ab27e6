# shellcheck shell=bash
# The configuration files of the mini-cloud's services, as a deployment
# guide would write them. Sourced by tools/minicloud.sh, which defines
# ETC, MC, RUN, VENV, PASSWORD, ADDR, the ports, db_url, rabbit_url and
# auth_section. Rewritten on every 'up' (cheap, and never stale).

site_packages() {
    "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

# A file shipped with a service: under the venv's etc/ or in the package.
shipped_file() {
    local path
    for path in "$@"; do
        [[ -f $path ]] && { printf '%s\n' "$path"; return; }
    done
    die "none of these files exists: $* (is the mini-cloud venv complete?" \
        "remove $VENV and run '$0 up' again)"
}

write_clouds_yaml() {
    (umask 077; cat >"$ETC/clouds.yaml" <<EOF
clouds:
  minicloud-admin:
    auth:
      auth_url: $AUTH_URL
      username: admin
      password: $PASSWORD
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: $REGION
    identity_api_version: 3
    api_timeout: 60
EOF
)
}

write_keystone_conf() {
    mkdir -p "$ETC/keystone"
    write_clouds_yaml
    cat >"$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
use_stderr = true
[database]
connection = $(db_url keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $ETC/keystone/fernet-keys
[fernet_receipts]
key_repository = $ETC/keystone/fernet-keys
[credential]
key_repository = $ETC/keystone/credential-keys
[cache]
enabled = false
[identity]
# bcrypt's fewest rounds: every service authenticates often, and a
# 2-core machine shared with guests has no CPU to spare (a test cloud).
password_hash_rounds = 4
EOF
}

write_placement_conf() {
    mkdir -p "$ETC/placement"
    cat >"$ETC/placement/placement.conf" <<EOF
[DEFAULT]
use_stderr = true
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
$(auth_section keystone_authtoken placement)
EOF
}

write_glance_conf() {
    local paste
    paste=$(shipped_file "$VENV/etc/glance/glance-api-paste.ini" \
        "$(site_packages)/etc/glance/glance-api-paste.ini")
    mkdir -p "$ETC/glance" "$MC/glance/staging" "$MC/glance/tasks"
    cp "$paste" "$ETC/glance/glance-api-paste.ini"
    cat >"$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
use_stderr = true
enabled_backends = file:file
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $MC/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $MC/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $MC/glance/tasks
[database]
connection = $(db_url glance)
[paste_deploy]
flavor = keystone
[oslo_concurrency]
lock_path = $MC/lock
$(auth_section keystone_authtoken glance)
EOF
}

write_neutron_conf() {
    local paste
    paste=$(shipped_file "$VENV/etc/neutron/api-paste.ini" \
        "$(site_packages)/neutron/tests/etc/api-paste.ini")
    mkdir -p "$ETC/neutron/plugins/ml2" "$MC/neutron"
    cat >"$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
use_stderr = true
core_plugin = ml2
service_plugins =
auth_strategy = keystone
api_paste_config = $paste
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
state_path = $MC/neutron
transport_url = $(rabbit_url)
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
[database]
connection = $(db_url neutron)
[oslo_concurrency]
lock_path = $MC/lock
$(auth_section keystone_authtoken neutron)
$(auth_section placement neutron)
$(auth_section nova neutron)
EOF
    cat >"$ETC/neutron/plugins/ml2/ml2_conf.ini" <<EOF
[ml2]
type_drivers = local
tenant_network_types = local
mechanism_drivers =
extension_drivers =
EOF
}

# oslo.privsep runs "sudo privsep-helper" unless told otherwise: we are
# root already, and there is no sudo configuration for the venv.
privsep_sections() {
    local section
    for section in nova_sys_admin privsep_osbrick \
            vif_plug_linux_bridge_privileged vif_plug_ovs_privileged; do
        printf '[%s]\nhelper_command = %s/bin/privsep-helper --config-file %s\n' \
            "$section" "$VENV" "$ETC/nova/nova.conf"
    done
}

write_nova_conf() {
    mkdir -p "$ETC/nova"
    cp "$(shipped_file "$VENV/etc/nova/api-paste.ini")" "$ETC/nova/api-paste.ini"
    cat >"$ETC/nova/nova.conf" <<EOF
[DEFAULT]
use_stderr = true
host = $COMPUTE_HOST
my_ip = $ADDR
compute_driver = heartbeat_libvirt.HeartbeatLibvirtDriver
transport_url = $(rabbit_url)
state_path = $MC/nova
instances_path = $MC/nova/instances
instance_name_template = $INSTANCE_NAME_TEMPLATE
allow_resize_to_same_host = true
# A hung guest ignores the ACPI power button: Nova destroys it after this
# many seconds (Masakari's wait_period_after_power_off is 180 s).
shutdown_timeout = 15
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[libvirt]
virt_type = qemu
cpu_mode = none
[vnc]
enabled = false
[spice]
enabled = false
[notifications]
notification_format = versioned
[oslo_messaging_notifications]
driver = messagingv2
[scheduler]
discover_hosts_in_cells_interval = 10
workers = 1
[conductor]
workers = 1
[oslo_concurrency]
lock_path = $MC/lock
[glance]
region_name = $REGION
[heartbeat]
socket_dir = /var/lib/libvirt/qemu
[heartbeat_admin]
socket_path = $RUN/heartbeat-admin.sock
$(privsep_sections)
$(auth_section keystone_authtoken nova)
$(auth_section placement placement)
$(auth_section neutron neutron)
service_metadata_proxy = false
$(auth_section service_user nova)
send_service_user_token = true
EOF
}

write_masakari_conf() {
    mkdir -p "$ETC/masakari"
    cat >"$ETC/masakari/masakari.conf" <<EOF
[DEFAULT]
use_stderr = true
auth_strategy = keystone
transport_url = $(rabbit_url)
masakari_api_listen = $ADDR
masakari_api_listen_port = $PORT_MASAKARI
masakari_api_workers = 1
os_privileged_user_name = masakari
os_privileged_user_password = $PASSWORD
os_privileged_user_tenant = service
os_privileged_user_auth_url = $AUTH_URL
os_region_name = $REGION
[instance_failure]
process_all_instances = true
[database]
connection = $(db_url masakari)
[taskflow]
connection = $(db_url masakari)
[wsgi]
api_paste_config = $(shipped_file "$VENV/etc/masakari/api-paste.ini")
[oslo_concurrency]
lock_path = $MC/lock
$(auth_section keystone_authtoken masakari)
EOF
}

write_bridge_conf() {
    cat >"$ETC/bridge.conf" <<EOF
[DEFAULT]
use_stderr = true
transport_url = $(rabbit_url)
$(auth_section masakari masakari)
valid_interfaces = public
EOF
}
