# shellcheck shell=bash
# bench/preamble.sh — what every benchmark sources first, from the checkout's root (the script has cd'd
# there and set MERCATO_ROOT): the project's shell library, the dependency and build helpers, and
# bench/lib.sh. (SC1091: plain `shellcheck` does not follow sources; `./mercato lint` runs shellcheck -x,
# which does.)
# shellcheck source=scripts/lib.sh disable=SC1091
source scripts/lib.sh
# shellcheck source=scripts/deps.sh disable=SC1091
source scripts/deps.sh
# shellcheck source=scripts/build.sh disable=SC1091
source scripts/build.sh
# shellcheck source=bench/lib.sh disable=SC1091
source bench/lib.sh
