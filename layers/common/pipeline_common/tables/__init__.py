"""One module per DynamoDB table of ``template.yaml`` that code reads or writes in more than one
place: its record (what a row holds, typed), the few operations the table is used for (each a
top-level function, so a role's code names exactly the calls it makes), and its index names.

Nothing outside this package builds or parses a row of these tables as a DynamoDB attribute map:
a change of attribute, condition or index is made here, once.
"""
