/**
 * Tree-sitter grammar for pipe (`.pipe` files), for editors: highlighting, folding, structure.
 * It follows grammar/GRAMMAR.md, the normative grammar; the compiler's own parser is the
 * reference for anything this grammar accepts more loosely (e.g. a value on the line after `=`).
 */

const commaSep = (rule) => optional(seq(rule, repeat(seq(',', rule)), optional(',')));
const separated = (rule) => repeat(seq(rule, optional(choice(',', ';'))));

module.exports = grammar({
  name: 'pipe',

  extras: ($) => [/\s/, $.comment, $.doc_comment],

  word: ($) => $.identifier,

  rules: {
    source_file: ($) => repeat($._item),

    _item: ($) => choice($.use_item, $.param_item, $.input_item, $.stage_item, $.template_item, $.pipeline_item),

    use_item: ($) =>
      seq(
        'use',
        choice(
          seq(field('module', $.identifier), optional(seq('as', field('alias', $.identifier)))),
          seq(field('module', $.string), 'as', field('alias', $.identifier)),
        ),
      ),

    param_item: ($) =>
      seq('param', field('name', $.identifier), ':', field('type', $.type), optional(seq('=', field('default', $._value)))),

    input_item: ($) => seq('input', field('name', $.identifier), '=', field('source', $._value)),

    stage_item: ($) =>
      seq('stage', field('name', $.identifier), optional(seq(':', field('template', $.path))), field('body', $.block)),

    template_item: ($) =>
      seq(
        'template',
        field('name', $.identifier),
        optional(seq(':', field('parent', $.path))),
        field('body', $.template_body),
      ),

    pipeline_item: ($) => seq('pipeline', field('body', $.block)),

    // `list` and `map` alone are still type names, so the checker can say what is missing.
    type: ($) =>
      choice($.identifier, alias(choice('list', 'map'), $.identifier), seq(choice('list', 'map'), '[', $.type, ']')),

    path: ($) => seq($.identifier, repeat(seq('.', $.identifier))),

    block: ($) => seq('{', separated($.field), '}'),

    template_body: ($) => seq('{', separated(choice($.field_declaration, $.field)), '}'),

    field: ($) => seq(field('key', choice($.identifier, $.string)), '=', field('value', $._value)),

    field_declaration: ($) =>
      seq(field('name', $.identifier), ':', field('type', $.type), optional(seq('=', field('default', $._value)))),

    _value: ($) => choice($.pinned, $._primary),

    pinned: ($) => seq(field('source', $._primary), '@', field('version', $._primary)),

    _primary: ($) => choice($.string, $.number, $.unit, $.boolean, $.list, $.record, $.call, $.path),

    list: ($) => seq('[', commaSep($._value), ']'),

    record: ($) => seq('{', separated($.field), '}'),

    call: ($) => seq(field('function', $.identifier), token.immediate('('), commaSep($.argument), ')'),

    argument: ($) => choice(seq(field('name', $.identifier), '=', field('value', $._value)), $._value),

    string: ($) =>
      seq(
        '"',
        repeat(
          choice($.string_content, alias(token.immediate('$'), $.string_content), $.escape_sequence, $.interpolation),
        ),
        token.immediate('"'),
      ),

    string_content: (_) => token.immediate(prec(1, /[^"\\$\n]+/)),

    escape_sequence: (_) => token.immediate(seq('\\', /[\\"$ntr]/)),

    interpolation: ($) => seq(token.immediate('${'), field('name', $.identifier), '}'),

    // `1e-4` is a number; `1e3Gi` a unit (the longer match).
    number: (_) => /-?\d+(\.\d+)?([eE][+-]?\d+)?/,

    unit: (_) => /-?\d+(\.\d+)?[A-Za-z][A-Za-z0-9.]*/,

    boolean: (_) => choice('true', 'false'),

    identifier: (_) => /[A-Za-z_][A-Za-z0-9_]*/,

    doc_comment: (_) => token(prec(2, seq('##', /.*/))),

    comment: (_) => token(prec(1, seq('#', /.*/))),
  },
});
