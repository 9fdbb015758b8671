#!/usr/bin/env bash
# A broken tile file in the cache is never served: a zero-length .mvt.gz (what a crash
# between a tile's rename and its data reaching the disk used to leave, before tiles were
# fsynced), a truncated .mvt.gz, a truncated legacy (plain) .mvt, and a zero-length .mvt.gz
# where the tile is empty. Each time the coordinator treats the file as a miss (logs
# cache_broken_tile, removes it), the tile is rendered again, and the answer is the rendering
# contract's bytes (200 with the whole tile, or 204 for the empty tile) — never an empty 200
# or a 204 for a tile with features. The cache then holds the whole tile again (.mvt.gz).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

COORD_LOG=$TQ_IT_DIR/coordinator1.log

# One metatile over Paris at z13 (x 4144..4151, y 2816..2823) no other test uses.
Z=13
X0=4149
Y0=2818

cache_file() { # Z X Y
    echo "$TQ_TEST_CACHE_DIR/demo/$1/$2/$3.mvt.gz"
}

# broken_case NAME X Y HOW: the tile is cached (fetched once), then HOW (a shell function
# name, given the file) breaks its file and sets BROKEN to the broken file's path; the next
# fetch must give the contract's bytes.
broken_case() {
    local name=$1 x=$2 y=$3 how=$4 path f expected status got
    path=/demo/$Z/$x/$y.mvt
    f=$(cache_file "$Z" "$x" "$y")
    expected=$(it_psql -c "$(it_contract_sql "$Z" "$x" "$y")")
    [[ -n $expected ]] || {
        it_fail "$name: contract SQL gives an empty tile for $path; the demo data should cover it"
        return
    }
    status=$(it_fetch "$path" "${name}_first")
    it_check "$name: first fetch of $path" 200 "$status"
    [[ -s $f ]] || {
        it_fail "$name: $f not cached after the first fetch"
        return
    }
    wait_metatile_idle "$Z" "$x" "$y"
    BROKEN=$f
    "$how" "$f"
    status=$(it_fetch "$path" "$name")
    got=$(it_hex "$IT_TMP/$name.body")
    it_check "$name: status after breaking the file" 200 "$status"
    it_check "$name: X-Tileq (rendered again, not served from the broken file)" miss \
        "$(it_header "$name" X-Tileq)"
    if [[ $got == "$expected" ]]; then
        echo "ok: $name: $((${#got} / 2)) bytes equal the contract SQL's"
    else
        it_fail "$name: answer of $((${#got} / 2)) bytes differs from the contract's $((${#expected} / 2))"
    fi
    grep -q "event=cache_broken_tile path=$BROKEN " "$COORD_LOG" &&
        echo "ok: $name: the coordinator logged the broken file" ||
        it_fail "$name: no cache_broken_tile line for $BROKEN in $COORD_LOG"
    it_check "$name: the cache holds the whole tile again" "$expected" \
        "$(gzip -dc <"$f" 2>/dev/null | od -An -v -tx1 | tr -d ' \n')"
    [[ ! -e ${f%.gz} ]] || it_fail "$name: a plain ${f%.gz} is left beside the tile"
    status=$(it_fetch "$path" "${name}_hit")
    it_check "$name: next fetch is a hit" "200 hit" "$status $(it_header "${name}_hit" X-Tileq)"
}

# wait_metatile_idle Z X Y: waits (bounded) until no job of the tile's metatile is queued or
# running (an interactive job answers its first tile, then writes the rest of the metatile:
# a file broken meanwhile would be overwritten by that write, not read broken).
wait_metatile_idle() {
    local id="demo/$1/$(($2 / 8 * 8))/$(($3 / 8 * 8))" i
    for ((i = 0; i < 300; i++)); do
        [[ $(it_redis EXISTS "{tq}:job:$id") == 0 ]] && return 0
        sleep 0.1
    done
    it_fail "job $id still in the queue after 30 s"
}

make_zero_length() { : >"$1"; }
cut_in_half() { truncate -s $(($(stat -c %s "$1") / 2)) "$1"; }
trailer_cut() { truncate -s $(($(stat -c %s "$1") - 3)) "$1"; } # CRC present, size cut
# A legacy cache's plain .mvt, truncated (the .mvt.gz taken away).
legacy_cut() {
    BROKEN=${1%.gz}
    gzip -dc <"$1" >"$BROKEN.tmp.test"
    truncate -s $(($(stat -c %s "$BROKEN.tmp.test") / 2)) "$BROKEN.tmp.test"
    mv "$BROKEN.tmp.test" "$BROKEN"
    rm "$1"
}

broken_case zero_length "$X0" "$Y0" make_zero_length
broken_case truncated $((X0 + 1)) $((Y0 + 1)) cut_in_half
broken_case gzip_trailer_cut $((X0 - 1)) $((Y0 - 1)) trailer_cut
broken_case legacy_truncated $((X0 + 2)) $((Y0 + 2)) legacy_cut

# An empty tile is the .empty marker only: a zero-length .mvt.gz there is broken too; the
# tile is rendered again and answered 204 (and the stray file is gone).
EZ=7 EX=17 EY=81 # South Pacific
expected=$(it_psql -c "$(it_contract_sql $EZ $EX $EY)")
it_check "empty tile $EZ/$EX/$EY: contract SQL gives an empty tile" "" "$expected"
it_check "empty tile: first fetch" 204 "$(it_fetch "/demo/$EZ/$EX/$EY.mvt" empty_first)"
f=$(cache_file $EZ $EX $EY)
marker=${f%.mvt.gz}.empty
[[ -e $marker ]] && echo "ok: empty tile cached as the .empty marker" ||
    it_fail "empty tile: no $marker"
rm -f "$marker"
: >"$f"
it_check "empty tile with a zero-length .mvt.gz instead of the marker: 204 after a render" \
    "204 miss" "$(it_fetch "/demo/$EZ/$EX/$EY.mvt" empty_again) $(it_header empty_again X-Tileq)"
[[ -e $marker && ! -e $f ]] && echo "ok: the marker is back, the zero-length .mvt.gz gone" ||
    it_fail "empty tile: marker $(ls "$marker" 2>&1), .mvt.gz $(ls -l "$f" 2>&1)"

# Leave the queue idle for the next test (the rest of each metatile is rendered after the
# answer).
wait_metatile_idle "$Z" "$X0" "$Y0"
wait_metatile_idle $EZ $EX $EY
it_done
