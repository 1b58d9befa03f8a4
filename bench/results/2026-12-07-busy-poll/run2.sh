#!/usr/bin/env bash
# The A/B where run.sh's three rounds disagreed: pipeline 16 and stairkv-bench (a), spin0 against spin20 only.
# usage: B=... SB=... ROUNDS=5 run2.sh > raw2.tsv
here="$(cd "$(dirname "$0")" && pwd)"
ONLY=1 VARIANTS="spin0 spin20" source "$here/run.sh"
