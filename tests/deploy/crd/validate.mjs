// Validate the custom resources of rendered manifests against the published CRD types.
//
//   node validate.mjs <node_modules dir> <rendered.yaml>...
//
// kubernetes-validate knows only the built-in kinds; this checks the rest: the ServiceMonitor and
// PrometheusRule (prometheus-operator) and the ScaledObject and TriggerAuthentication (KEDA), with the
// validators @kubernetes-models generates from those projects' Go types. A custom resource of any other
// kind is an error: a kind nobody validates must not slip through. Built-in kinds are skipped.
// Prints one line per custom resource and exits 1 on the first invalid or unknown one.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [modulesDir, ...files] = process.argv.slice(2);
if (!modulesDir || files.length === 0) {
  console.error("usage: node validate.mjs <node_modules dir> <rendered.yaml>...");
  process.exit(2);
}

// Imported by file URL from the given node_modules (the tools dir, not next to this script).
const load = async (module, file) =>
  import(pathToFileURL(join(resolve(modulesDir), module, file)).href);

const { parseAllDocuments } = await load("yaml", "dist/index.js");
const KINDS = {
  "monitoring.coreos.com/v1/ServiceMonitor": [
    "@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1/ServiceMonitor.js"],
  "monitoring.coreos.com/v1/PrometheusRule": [
    "@kubernetes-models/prometheus-operator", "monitoring.coreos.com/v1/PrometheusRule.js"],
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda", "keda.sh/v1alpha1/ScaledObject.js"],
  "keda.sh/v1alpha1/TriggerAuthentication": [
    "@kubernetes-models/keda", "keda.sh/v1alpha1/TriggerAuthentication.js"],
};
// Group-less (core) and *.k8s.io groups are Kubernetes' own: kubernetes-validate checks those.
const builtIn = (apiVersion) => !apiVersion.includes("/") || /^[a-z0-9.]*k8s\.io\//.test(apiVersion)
  || /^(apps|batch|autoscaling|policy)\//.test(apiVersion);

let failed = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      console.error(`ERROR ${file}: ${doc.errors[0].message}`);
      process.exit(1);
    }
    const obj = doc.toJS();
    if (obj === null || typeof obj !== "object") continue;
    if (builtIn(obj.apiVersion)) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const name = `${obj.kind}/${obj.metadata?.name}`;
    const where = KINDS[key];
    if (where === undefined) {
      console.error(`ERROR ${file}: ${name}: no schema for ${key}`);
      failed = 1;
      continue;
    }
    const mod = await load(...where);
    const Model = mod[obj.kind];
    try {
      new Model(obj).validate();
      console.log(`INFO ${file}: ${name} valid against ${key}`);
    } catch (err) {
      console.error(`ERROR ${file}: ${name}: ${err.message}`);
      failed = 1;
    }
  }
}
process.exit(failed);
