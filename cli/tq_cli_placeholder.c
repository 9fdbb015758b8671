/* placeholder until the report module lands */
typedef int tq_cli_placeholder_t;
