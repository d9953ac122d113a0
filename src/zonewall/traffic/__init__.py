"""Policy meets traffic: flow records read, mapped to the policy's classes and externals, and
judged by its effective flows (`zonewall replay`).

- `formats`   recognises a flow file (CSV with named columns, nfdump/pmacct CSV, Zeek
              `conn.log` TSV and JSON, kernel LOG lines, IOS ACL log lines, the aggregated
              table) and writes the SQL that reads it: every record becomes typed fields, or a
              reason why it cannot be read.
- `engine`    runs that SQL in DuckDB (imported lazily: `check` and `build` never load it),
              maps addresses to nodes (hash joins against lookup tables of the policy's
              address intervals) and aggregates; only aggregated rows reach Python.
- `replay`    judges each aggregated flow by the effective flows (an index of the rules by
              endpoint decides which statement blocks it, as `review.explain` would) and finds
              unused allows and violated assertions (`unreachable` on observed paths too).
- `render`    text, JSON and Markdown.
- `ports`     well-known medical and IT services; which side of a record is the server.
- `learn`     a draft policy from the aggregated flows (`zonewall learn`).
- `inventory` device inventories (CSV, NetBox export) and `check --inventory`.

The package sits beside `review` above the pipeline: it may use `compiler`, `dsl` and
`review`, never `cli`, and nothing below imports it.
"""
