#!/usr/bin/env bash
# Checks that the documentation names only what the repository holds:
#
#  1. every relative Markdown link in a tracked .md file, [text](path) or
#     [text](path#anchor), leads to a file that exists, and its #anchor to a
#     heading of that file (GitHub's rule: lowercase, punctuation dropped,
#     spaces to hyphens);
#  2. every mention of a .md file in a tracked .md or .go file (docs/API.md,
#     `LIMITS.md`, ../README.md) names a file that exists, beside the file
#     that mentions it, at the repository's root, or in docs/;
#  3. no file names the team's design document, which is not part of the
#     repository.
#
# Usage: scripts/check-docs.sh (from anywhere in the repository). Prints each
# problem as file:line: …, and exits 1 if there is any.
set -uo pipefail
cd "$(git rev-parse --show-toplevel)"

fail=0
tmpfail=$(mktemp)
problem() { echo "$1"; fail=1; }

# slug turns a heading's text into its GitHub anchor.
slug() {
	printf '%s' "$1" | tr 'A-Z' 'a-z' | sed -E 's/`//g; s/[^a-z0-9 _-]//g; s/ /-/g'
}

# anchors prints the anchors of a Markdown file's headings, one a line,
# outside fenced code blocks.
anchors() {
	awk '/^```/ { code = !code; next } !code && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
		while IFS= read -r h; do slug "$h"; echo; done
}

mapfile -t mds < <(git ls-files '*.md')
mapfile -t gos < <(git ls-files '*.go')

# 1. Links.
for f in "${mds[@]}"; do
	dir=$(dirname "$f")
	# file:line:target, outside fenced code blocks.
	awk '/^```/ { code = !code; next } !code { print FILENAME ":" FNR ":" $0 }' "$f" |
		grep -oE '^[^:]+:[0-9]+:|\]\([^) ]+\)' |
		awk '/^[^\]]/ { loc = $0; next } { t = substr($0, 3, length($0) - 3); print loc t }' |
		while IFS= read -r entry; do
			loc=${entry%%:*}:$(echo "$entry" | cut -d: -f2)
			target=$(echo "$entry" | cut -d: -f3-)
			case "$target" in
			http://* | https://* | mailto:*) continue ;;
			esac
			path=${target%%#*}
			anchor=
			[[ "$target" == *#* ]] && anchor=${target#*#}
			if [[ -z "$path" ]]; then
				file=$f
			else
				file=$dir/$path
				if [[ ! -e "$file" ]]; then
					echo "$loc: link to $target: no such file" && echo x >>"$tmpfail"
					continue
				fi
			fi
			if [[ -n "$anchor" && "$file" == *.md ]] && ! grep -qxF -- "$anchor" <<<"$(anchors "$file")"; then
				echo "$loc: link to $target: no heading with that anchor in $file" && echo x >>"$tmpfail"
			fi
		done
done

# 2. Mentions of .md files.
for f in "${mds[@]}" "${gos[@]}"; do
	dir=$(dirname "$f")
	grep -noE '[A-Za-z0-9_./-]+\.md\b' "$f" | while IFS=: read -r line name; do
		case "$name" in
		//* | *://*) continue ;; # part of a URL
		esac
		if [[ -e "$dir/$name" || -e "$name" || -e "docs/$name" ]]; then
			continue
		fi
		echo "$f:$line: names $name, which the repository does not contain" && echo x >>"$tmpfail"
	done
done

# 3. The design document.
if hits=$(git grep -n 'DESIGN[.]md'); then
	while IFS= read -r h; do problem "$h: names a document outside the repository"; done <<<"$hits"
fi

[[ -s "$tmpfail" ]] && fail=1
rm -f "$tmpfail"
if [[ $fail -ne 0 ]]; then
	exit 1
fi
echo "docs: every link, anchor and .md name resolves"
