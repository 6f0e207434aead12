# Reads the TAP output of `node --test --test-reporter=tap` and prints, for each failed or
# cancelled test, its name, the failing assertion (the YAML block's location, error, expected and
# actual) and the "# ringcast log: <path>" diagnostics lib/server.js adds to a failing test.
# A suite's own "N subtests failed" entry is skipped: its failing tests are listed themselves.
#   awk -v root=/repo/ -f tests/e2e/tap-failures.awk e2e.txt    (root: stripped from locations)

function flush(    i) {
    if (name != "" && type != "subtestsFailed") {
        printf "not ok: %s%s\n", name, (location != "" ? "  (" location ")" : "")
        for (i = 1; i <= n; i++) {
            if (i > max_lines) {
                printf "    ... (%d more lines in the TAP log)\n", n - max_lines
                break
            }
            print "    " out[i]
        }
        for (i = 1; i <= logs; i++) print "    ringcast log: " log_path[i]
        failures++
    }
    name = ""; type = ""; location = ""; n = 0; logs = 0; state = ""; key = ""
}

function unquote(v) {
    if (v ~ /^'.*'$/) { v = substr(v, 2, length(v) - 2); gsub(/''/, "'", v) }
    return v
}

BEGIN { max_lines = 40; failures = 0 }

# A test result ends whatever was being collected.
/^ *(not )?ok [0-9]+ / {
    flush()
    if ($0 ~ /^ *not ok /) {
        match($0, /^ */); indent = RLENGTH
        name = $0; sub(/^ *not ok [0-9]+ - /, "", name)
        state = "result"
    }
    next
}

state == "result" && $0 ~ /^ *---$/ { state = "yaml"; yaml_indent = indent + 2; next }

state == "yaml" {
    line = $0
    if (substr(line, 1, yaml_indent) ~ /^ *$/ && substr(line, yaml_indent + 1) == "...") { state = "diag"; next }
    body = substr(line, yaml_indent + 1)
    if (body ~ /^[A-Za-z_]+:/) { # a key of the block
        key = body; sub(/:.*/, "", key)
        value = body; sub(/^[A-Za-z_]+: ?/, "", value)
        if (key == "location") { location = unquote(value); if (root != "" && index(location, root) == 1) location = substr(location, length(root) + 1) }
        else if (key == "failureType") type = unquote(value)
        else if (key == "error" || key == "expected" || key == "actual")
            out[++n] = key ":" (value == "|-" || value == "" ? "" : " " unquote(value))
        next
    }
    # A continuation line of a multi-line value: kept when its key is.
    if (key == "error" || key == "expected" || key == "actual") {
        if (substr(line, 1, yaml_indent + 2) ~ /^ *$/) line = substr(line, yaml_indent + 3)
        else sub(/^ +/, "", line)
        if (line != "") out[++n] = "  " line
    }
    next
}

state == "diag" && $0 ~ /^ *# ringcast log: / {
    path = $0; sub(/^ *# ringcast log: /, "", path)
    log_path[++logs] = path
    next
}

state == "diag" { flush() }

END {
    flush()
    if (failures == 0) print "(no failed test found in the TAP output)"
}
