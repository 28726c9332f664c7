#!/usr/bin/env bash
# What an agent's image recipe costs `moat PROVIDER` once the image is built: the provider
# file is parsed, the recipe's digest computed and podman asked for the tagged image, against
# the same provider run with --image given, and against a provider that names its image with
# image: and has no recipe.  Measured twice, as the test user: up to the point where the run
# would take its name (a name already taken, so moat stops there: the part that differs, with
# no container start in the noise), and as whole fire-and-forget runs.
# Target: <= +2 ms median.   Usage: bench/agent-image.sh [N]
. "$(dirname "$0")/lib.sh"
n=${1:-30}
bench_boot
ws=/home/moattest/bench-ws
sbu mkdir -p "$ws" /home/moattest/.config/moat/providers
sbu sh -c 'cat >~/.config/moat/providers/bb.yaml' <<-'EOF2'
	build:
	  from: localhost/moat-test:latest
	  run:
	    - echo built > /marker
	command: [sh, -c, 'cat /marker', sh]
	prompt: ["{prompt}"]
EOF2
image=$(sbu moat build bb 2>/dev/null)
sbu sh -c "printf 'image: %s\ncommand: [sh, -c, \"cat /marker\", sh]\nprompt: [\"{prompt}\"]\n' $image >~/.config/moat/providers/bbimg.yaml"
sbu moat run --image "$image" -n taken "$ws" -- true >/dev/null

out=$(mktemp -d "$top_builddir/bench/out.XXXXXX")
for _ in $(seq "$n"); do
	time_in user sh -c "moat bb --network none -n taken $ws -p go 2>/dev/null; true" >>"$out/recipe"
	time_in user sh -c "moat bb --network none --image $image -n taken $ws -p go 2>/dev/null; true" >>"$out/image-flag"
	time_in user sh -c "moat bbimg --network none -n taken $ws -p go 2>/dev/null; true" >>"$out/image-key"
done
report "to the name check: recipe vs --image" "recipe" "$out/recipe" "--image" "$out/image-flag"
report "to the name check: recipe vs image:" "recipe" "$out/recipe" "image:" "$out/image-key"
awk -v a="$(median <"$out/recipe")" -v b="$(median <"$out/image-flag")" -v c="$(median <"$out/image-key")" \
	'BEGIN { printf "added by the recipe: %+.2f ms vs --image, %+.2f ms vs image: (median)\n", a - b, a - c }'

for _ in $(seq "$n"); do
	time_in user moat bb --network none "$ws" -p go >>"$out/run-recipe"
	time_in user moat bb --network none --image "$image" "$ws" -p go >>"$out/run-image-flag"
done
report "whole runs: recipe vs --image" "recipe" "$out/run-recipe" "--image" "$out/run-image-flag"
awk -v a="$(median <"$out/run-recipe")" -v b="$(median <"$out/run-image-flag")" \
	'BEGIN { printf "added by the recipe to a whole run: %+.2f ms (median)\n", a - b }'
rm -rf "$out"
