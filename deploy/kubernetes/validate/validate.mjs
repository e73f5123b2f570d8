// Validates rendered manifests (multi-document YAML on stdin, e.g. `kubectl kustomize ...`)
// against the schemas the CRDs' own projects publish: Argo Rollouts (Rollout, AnalysisTemplate)
// and Prometheus Operator (ServiceMonitor, PrometheusRule). kubernetes-validate knows neither.
//
//   kubectl kustomize deploy/kubernetes/overlays/prod | node deploy/kubernetes/validate/validate.mjs
//
// Prints one line per checked object and exits 1 when any of them is invalid. Objects of other
// kinds are counted and left to kubernetes-validate.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { AnalysisTemplate } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate";
import { Rollout } from "@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

const MODELS = {
  "argoproj.io/v1alpha1/Rollout": Rollout,
  "argoproj.io/v1alpha1/AnalysisTemplate": AnalysisTemplate,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
  "monitoring.coreos.com/v1/PrometheusRule": PrometheusRule,
};

const documents = parseAllDocuments(readFileSync(0, "utf8"));
let invalid = 0;
let checked = 0;
let other = 0;
for (const document of documents) {
  if (document.errors.length > 0) {
    console.log(`INVALID YAML: ${document.errors.map((error) => error.message).join("; ")}`);
    invalid += 1;
    continue;
  }
  const object = document.toJS();
  if (object === null) continue;
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) {
    other += 1;
    continue;
  }
  const name = `${object.kind}/${object.metadata?.name}`;
  checked += 1;
  try {
    new Model(object).validate();
    console.log(`ok ${name}`);
  } catch (error) {
    invalid += 1;
    const details = error.errors ? JSON.stringify(error.errors, null, 2) : "";
    console.log(`INVALID ${name}: ${error.message}\n${details}`);
  }
}
console.log(`${checked} checked, ${invalid} invalid, ${other} of other kinds`);
process.exit(invalid > 0 ? 1 : 0);
