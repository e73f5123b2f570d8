"""Metric names (and their labels) that Roost's alerts and dashboards read from exporters it
does not write: the rule and dashboard cross-checks accept these as well as Roost's own.

Copied by hand from each exporter's own documentation, at the version deploy/ runs; when an
exporter is upgraded, check its list again (a renamed metric leaves an alert silently empty):

- kube-state-metrics v2.13: docs/metrics/workload/{pod,horizontalpodautoscaler,
  poddisruptionbudget,deployment,cronjob}-metrics.md and docs/metrics/cluster/node-metrics.md
  (https://github.com/kubernetes/kube-state-metrics/tree/main/docs/metrics).
- cAdvisor as the kubelet serves it at /metrics/cadvisor (cAdvisor docs/storage/prometheus.md,
  https://github.com/google/cadvisor/blob/master/docs/storage/prometheus.md); kube-prometheus'
  kubelet ServiceMonitor adds namespace, pod and container.
- redis_exporter v1.62 (oliver006/redis_exporter, README "What's exported" and exporter/info.go).
"""

from __future__ import annotations

_KSM_POD = frozenset({"namespace", "pod", "uid"})
_KSM_CONTAINER = _KSM_POD | {"container"}
_KSM_HPA = frozenset({"namespace", "horizontalpodautoscaler"})
_KSM_PDB = frozenset({"namespace", "poddisruptionbudget"})
_KSM_DEPLOYMENT = frozenset({"namespace", "deployment"})
_CADVISOR = frozenset({"namespace", "pod", "container", "id", "image", "name"})
_REDIS: frozenset[str] = frozenset()

KUBE_STATE_METRICS: dict[str, frozenset[str]] = {
    "kube_pod_info": _KSM_POD
    | {"host_ip", "pod_ip", "node", "created_by_kind", "created_by_name", "priority_class"},
    "kube_pod_status_phase": _KSM_POD | {"phase"},
    "kube_pod_status_ready": _KSM_POD | {"condition"},
    "kube_pod_container_status_restarts_total": _KSM_CONTAINER,
    "kube_pod_container_status_ready": _KSM_CONTAINER,
    "kube_pod_container_resource_requests": _KSM_CONTAINER | {"node", "resource", "unit"},
    "kube_pod_container_resource_limits": _KSM_CONTAINER | {"node", "resource", "unit"},
    "kube_node_status_condition": frozenset({"node", "condition", "status"}),
    "kube_deployment_spec_replicas": _KSM_DEPLOYMENT,
    "kube_deployment_status_replicas": _KSM_DEPLOYMENT,
    "kube_deployment_status_replicas_available": _KSM_DEPLOYMENT,
    "kube_deployment_status_replicas_unavailable": _KSM_DEPLOYMENT,
    "kube_horizontalpodautoscaler_spec_max_replicas": _KSM_HPA,
    "kube_horizontalpodautoscaler_spec_min_replicas": _KSM_HPA,
    "kube_horizontalpodautoscaler_status_current_replicas": _KSM_HPA,
    "kube_horizontalpodautoscaler_status_desired_replicas": _KSM_HPA,
    "kube_poddisruptionbudget_status_current_healthy": _KSM_PDB,
    "kube_poddisruptionbudget_status_desired_healthy": _KSM_PDB,
    "kube_poddisruptionbudget_status_expected_pods": _KSM_PDB,
    "kube_poddisruptionbudget_status_pod_disruptions_allowed": _KSM_PDB,
    "kube_cronjob_status_last_successful_time": frozenset({"namespace", "cronjob"}),
    "kube_cronjob_status_last_schedule_time": frozenset({"namespace", "cronjob"}),
}

CADVISOR: dict[str, frozenset[str]] = {
    "container_cpu_usage_seconds_total": _CADVISOR | {"cpu"},
    "container_cpu_cfs_throttled_periods_total": _CADVISOR,
    "container_cpu_cfs_periods_total": _CADVISOR,
    "container_memory_working_set_bytes": _CADVISOR,
    "container_memory_rss": _CADVISOR,
    "container_spec_memory_limit_bytes": _CADVISOR,
}

REDIS_EXPORTER: dict[str, frozenset[str]] = {
    "redis_up": _REDIS,
    "redis_memory_used_bytes": _REDIS,
    "redis_memory_max_bytes": _REDIS,
    "redis_connected_clients": _REDIS,
    "redis_blocked_clients": _REDIS,
    "redis_evicted_keys_total": _REDIS,
    "redis_expired_keys_total": _REDIS,
    "redis_keyspace_hits_total": _REDIS,
    "redis_keyspace_misses_total": _REDIS,
    "redis_commands_processed_total": _REDIS,
    "redis_commands_total": frozenset({"cmd"}),
    "redis_db_keys": frozenset({"db"}),
    "redis_rejected_connections_total": _REDIS,
}

EXPORTER_METRICS: dict[str, frozenset[str]] = {**KUBE_STATE_METRICS, **CADVISOR, **REDIS_EXPORTER}
