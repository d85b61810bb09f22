-- Drives Neovim's built-in LSP client against `pipe lsp` (Neovim 0.7 API: vim.lsp.start_client).
-- Reads PIPE_BIN, PIPE_FILE and PIPE_OUT from the environment; writes what it saw as JSON.
local pipe, file, out = os.getenv("PIPE_BIN"), os.getenv("PIPE_FILE"), os.getenv("PIPE_OUT")
local results = { initial = {}, cleared = false, hover = "", log = {} }

local function finish()
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(results))
  f:close()
  vim.cmd("qa!")
end

local ok, err = pcall(function()
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = "pipe",
    cmd = { pipe, "lsp" },
    root_dir = vim.fn.fnamemodify(file, ":h"),
  })
  vim.lsp.buf_attach_client(buf, id)

  vim.wait(15000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    table.insert(results.initial, { code = d.code, lnum = d.lnum, col = d.col, message = d.message })
  end

  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  for i, line in ipairs(lines) do
    if line:find("gpus") then
      vim.api.nvim_buf_set_lines(buf, i - 1, i, false, { "  gpu    = 8" })
    end
  end
  results.cleared = vim.wait(15000, function() return #vim.diagnostic.get(buf) == 0 end, 50)

  local params = { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = 5, character = 20 } }
  local replies = vim.lsp.buf_request_sync(buf, "textDocument/hover", params, 10000) or {}
  for _, reply in pairs(replies) do
    if reply.result and reply.result.contents then
      results.hover = reply.result.contents.value or ""
    end
  end
  vim.lsp.stop_client(id)
end)
if not ok then
  table.insert(results.log, tostring(err))
end
finish()
