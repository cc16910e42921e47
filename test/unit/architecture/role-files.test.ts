import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ROLE_DEFINITIONS } from '../../../node/roles.ts'
import { ROLE_NAMES } from '../../../protocols/records/types/common.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8')

describe('the role template’s file layout', () => {
  for (const name of ROLE_NAMES) {
    it(`${name}: its class in roles/${name}/${name}.ts, index.ts its one defineRole and exports only`, () => {
      const own = `roles/${name}/${name}.ts`
      assert.ok(existsSync(path.join(ROOT, own)), `${own} exists`)
      assert.match(read(own), /\bexport class \w+\b[^{]*\bimplements Role\b/, `${own} declares the role's class`)
      const index = read(`roles/${name}/index.ts`)
      assert.doesNotMatch(index, /^\s*(export\s+)?(abstract\s+)?class\s/m, `roles/${name}/index.ts declares no class`)
      assert.equal(index.match(/\bdefineRole\(/g)?.length, 1, `roles/${name}/index.ts has one defineRole`)
    })
  }

  it('every role declares its components, and keeps its state in a role store of its own layout', () => {
    for (const [name, definition] of Object.entries(ROLE_DEFINITIONS)) {
      assert.ok(definition.components != null && definition.components.length > 0, `${name} declares its components`)
      assert.ok(!definition.components.includes('db'), `${name} reaches its state through its store, not db`)
      assert.equal(definition.layout?.role, name, `${name} has a store layout of its own`)
    }
  })
})
