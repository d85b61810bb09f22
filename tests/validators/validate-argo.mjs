// Validates Argo objects with @kubernetes-models/argo-workflows (its schema-generated models).
// Usage: node validate-argo.mjs FILE.yaml…  Exits 1 naming the file, kind and error on failure.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { CronWorkflow, Workflow, WorkflowTemplate } from "@kubernetes-models/argo-workflows/argoproj.io/v1alpha1";

const models = { CronWorkflow, Workflow, WorkflowTemplate };
let checked = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length > 0) {
      console.error(`${file}: not YAML: ${doc.errors[0].message}`);
      failed++;
      continue;
    }
    const object = doc.toJS();
    const Model = models[object?.kind];
    if (!Model) continue;
    try {
      new Model(object).validate();
      checked++;
    } catch (error) {
      console.error(`${file}: ${object.kind} is invalid: ${error.message}`);
      failed++;
    }
  }
}
console.log(`@kubernetes-models/argo-workflows: ${checked} object(s) valid, ${failed} invalid`);
process.exit(failed > 0 || checked === 0 ? 1 : 0);
