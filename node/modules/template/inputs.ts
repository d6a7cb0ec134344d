// Which inputs a module template reads, found from its parse tree: `known` are the names it reads from its root
// (`.Message`, `$.Message`), `required` those it reads somewhere not guarded by an `if`/`with` on that name (a
// missing one renders as Go's "<no value>" and breaks the job). A bridge checks a contract's request against
// them (protocols/contract-job `checkTemplateInputs`) so a misspelt key is named, not silently defaulted.
import { LILYPAD_FUNCS } from './index.ts'
import { parseTemplate, type Arg, type Node, type Pipeline } from './parse.ts'

export interface TemplateInputs { known: string[], required: string[] }

export function templateInputs (src: string): TemplateInputs {
  const known = new Set<string>()
  const required = new Set<string>()
  const use = (name: string, guards: ReadonlySet<string>, asCondition: boolean): void => {
    known.add(name)
    if (!asCondition && !guards.has(name)) required.add(name)
  }
  const rootFields = (pipe: Pipeline, dotIsRoot: boolean): string[] => {
    const out: string[] = []
    const arg = (a: Arg): void => {
      if (a.kind === 'field' && dotIsRoot && a.names.length > 0) out.push(a.names[0])
      else if (a.kind === 'variable' && a.name === '$' && a.names.length > 0) out.push(a.names[0])
      else if (a.kind === 'pipe') out.push(...rootFields(a.pipe, dotIsRoot))
    }
    for (const cmd of pipe.cmds) for (const a of cmd.args) arg(a)
    return out
  }
  const visit = (nodes: Node[], guards: ReadonlySet<string>, dotIsRoot: boolean): void => {
    for (const n of nodes) {
      switch (n.kind) {
        case 'action':
          for (const f of rootFields(n.pipe, dotIsRoot)) use(f, guards, false)
          break
        case 'if':
        case 'with': {
          const cond = rootFields(n.pipe, dotIsRoot)
          for (const f of cond) use(f, guards, true)
          // inside `with`, dot is the value, no longer the root
          visit(n.list, new Set([...guards, ...cond]), n.kind === 'if' && dotIsRoot)
          if (n.elseList !== undefined) visit(n.elseList, guards, dotIsRoot)
          break
        }
        case 'range':
          for (const f of rootFields(n.pipe, dotIsRoot)) use(f, guards, false)
          visit(n.list, guards, false)
          if (n.elseList !== undefined) visit(n.elseList, guards, dotIsRoot)
          break
        default:
          break
      }
    }
  }
  visit(parseTemplate(src, new Set(LILYPAD_FUNCS.keys())), new Set(), true)
  return { known: [...known].sort(), required: [...required].sort() }
}
