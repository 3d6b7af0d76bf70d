# Turns a text file into a C string constant: ui_page and ui_page_len.
BEGIN { print "/* Generated from app/ui/index.html by app/ui/embed.awk. */"
	print "#include <stddef.h>"
	print "const char ui_page[] =" }
{
	gsub(/\\/, "&&"); gsub(/"/, "\\\""); gsub(/\t/, "\\t")
	print "\t\"" $0 "\\n\""
}
END {	print "\t\"\";"
	print "const size_t ui_page_len = sizeof(ui_page) - 1;" }
