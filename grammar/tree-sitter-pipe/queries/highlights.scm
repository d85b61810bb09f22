; Highlights for pipe. Capture names follow the common set used by Neovim, Helix and Zed.

[
  "use"
  "as"
  "param"
  "input"
  "stage"
  "template"
  "pipeline"
] @keyword

(comment) @comment
(doc_comment) @comment.documentation

(string) @string
(string_content) @string
(escape_sequence) @string.escape
(interpolation
  "${" @punctuation.special
  name: (identifier) @variable.parameter
  "}" @punctuation.special)

(number) @number
(unit) @number
(boolean) @boolean

(type) @type
(type "list" @type.builtin)
(type "map" @type.builtin)

(use_item module: (identifier) @module)
(use_item alias: (identifier) @module)
(param_item name: (identifier) @variable.parameter)
(input_item name: (identifier) @variable)
(stage_item name: (identifier) @function)
(stage_item template: (path) @type)
(template_item name: (identifier) @type.definition)
(template_item parent: (path) @type)

(field key: (identifier) @property)
(field key: (string) @property)
(field_declaration name: (identifier) @property)

(call function: (identifier) @function.call)
(argument name: (identifier) @variable.parameter)

["=" ":" "@"] @operator
["," ";" "."] @punctuation.delimiter
["{" "}" "[" "]" "(" ")"] @punctuation.bracket
