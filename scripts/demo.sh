#!/bin/sh
# make demo: 200 simulated clients chat for 20 s of virtual time over links
# that lose 10 % of their datagrams (simulator/scenarios/demo.sim); prints
# the simulator's report and leaves an HTML version next to the build.
set -eu
B=${1:-build}
"$B/mychat-sim" --scenario simulator/scenarios/demo.sim \
  --html "$B/demo-report.html" --json "$B/demo-report.json"
echo
echo "HTML report with charts: $B/demo-report.html"
