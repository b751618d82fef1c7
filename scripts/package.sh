#!/usr/bin/env bash
# Builds one platform-specific VSIX per target: `npm run package` builds every target whose ONNX
# Runtime binaries are in node_modules, `npm run package -- linux-x64 darwin-arm64` the ones named.
# Each VSIX holds the production bundles, the bundled models, the analysis graphs, media and only
# its own platform's onnxruntime-node binaries (node_modules holds every platform's, about 290 MB).
# The files are staged in .cache/package/TARGET (hard links, so staging copies nothing large), so
# dist/ and the working tree are left as they are; .vscodeignore then drops the dev-only files.
set -euo pipefail
cd "$(dirname "$0")/.."

ort_bin=node_modules/onnxruntime-node/bin/napi-v6
stage_root=.cache/package

available_targets() {
  for dir in "$ort_bin"/*/*; do
    [ -f "$dir/onnxruntime_binding.node" ] && echo "$(basename "$(dirname "$dir")")-$(basename "$dir")"
  done
  return 0
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(available_targets)
for target in "${targets[@]}"; do
  if [ ! -f "$ort_bin/${target%-*}/${target#*-}/onnxruntime_binding.node" ]; then
    echo "package: no ONNX Runtime binaries for $target in $ort_bin/${target%-*}/${target#*-}." >&2
    echo "package: targets with binaries here: $(available_targets | tr '\n' ' ' | grep . || echo 'none (run npm run setup)')" >&2
    echo "package: for another target, put its onnxruntime_binding.node and ONNX Runtime library in that folder (onnxruntime-node 1.30.0 ships none for darwin-x64: build its js/node binding from source)." >&2
    exit 1
  fi
done
[ -f CHANGELOG.md ] || { echo "package: CHANGELOG.md is missing" >&2; exit 1; }

rm -rf "$stage_root"
mkdir -p "$stage_root"
node scripts/build.mjs --production --outdir "$stage_root/dist"
# onnxruntime-node and what it depends on at run time (npm's view of the production tree).
mapfile -t runtime_modules < <(npm ls --omit=dev --parseable --all | sed -n "s|^$PWD/||p")

name=$(node -p 'require("./package.json").name')
version=$(node -p 'require("./package.json").version')
for target in "${targets[@]}"; do
  stage="$stage_root/$target"
  mkdir -p "$stage/extension" "$stage/node_modules"
  cp -al README.md CHANGELOG.md LICENSE .vscodeignore media models "$stage/"
  cp -al extension/graphs "$stage/extension/"
  cp -al "$stage_root/dist" "$stage/"
  for module in "${runtime_modules[@]}"; do
    mkdir -p "$stage/$(dirname "$module")"
    cp -al "$module" "$stage/$module"
  done
  # Only this target's binaries: drop every other platform's folder from the staged copy.
  for dir in "$stage/$ort_bin"/*/*; do
    [ "$dir" = "$stage/$ort_bin/${target%-*}/${target#*-}" ] || rm -rf "$dir"
  done
  # The bundles are built above; vsce must not run the development build's prepublish step.
  node -e 'const manifest = require("./package.json"); delete manifest.scripts["vscode:prepublish"];
    require("node:fs").writeFileSync(process.argv[1], JSON.stringify(manifest, null, 2) + "\n")' "$stage/package.json"
  vsix="$PWD/$name-$target-$version.vsix"
  (cd "$stage" && "$OLDPWD/node_modules/.bin/vsce" package --target "$target" --out "$vsix")
  echo "package: $(basename "$vsix"): $(du -m "$vsix" | cut -f1) MB ($(stat -c %s "$vsix") bytes), $(unzip -Z1 "$vsix" | wc -l) files"
done
