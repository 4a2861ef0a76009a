"""`kei solve PROBLEM [--json] [--out DESIGN] [--top K]`: the best car the catalogs allow."""
from __future__ import annotations

import math
from dataclasses import replace

from kei.errors import InfeasibleError
from kei.optimizer.answers.design import to_vehicle
from kei.optimizer.inputs.problem import load_problem
from kei.output import check_output_path, print_json
from kei.vehicle.files import write_vehicle


def register(sub) -> None:
    p = sub.add_parser("solve", help="find the best design for a problem file (MILP, verified by simulation)")
    p.add_argument("problem", help="problem: a TOML file or a bundled name (us_kei_15k, us_kei_150km, jp_kei, eu_quadricycle)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="DESIGN", help="write the best design as a vehicle file (kei simulate, kei hil)")
    p.add_argument("--top", metavar="K", type=int, default=1, help="the K best distinct designs (default 1)")
    p.add_argument("--price-cap", metavar="USD", type=float, help="override the problem's price_cap_usd")
    p.set_defaults(func=run_solve)


def run_solve(args) -> int:
    from kei.optimizer.answers.report import solution_text
    from kei.optimizer.solving.pipeline import solve

    check_output_path(args.out, "--out", (".toml",))
    problem = load_problem(args.problem)
    try:
        sol = solve(problem, top=args.top, price_cap_usd=args.price_cap)
    except InfeasibleError as err:
        problem = problem if args.price_cap is None else replace(problem, price_cap_usd=args.price_cap)
        if args.json:  # a program still gets one object on stdout; the exit code stays 4
            print_json({"status": "infeasible", "problem": problem.name, "objective": problem.objective,
                        "explanation": err.explanation, "details": err.details})
        else:
            _show_design_at_floor(problem, err, args.problem)
        raise
    if args.out:
        header = (f"Design written by kei solve {args.problem}: {problem.objective} on {sol.data.cycle.name}.\n"
                  f"Predicted range {sol.best.range_km:.1f} km, simulated {sol.best.verified_range_km:.1f} km; "
                  f"price ${sol.best.price_usd:,.0f}, assembled at {sol.best.site}.\n"
                  + "".join(f"Duty: {y['line']}: {y['rate']:.1%} of ${y['base_usd']:,.0f} = ${y['amount_usd']:,.0f} "
                            f"({y['rule']}).\n" for y in sol.best.duties)
                  + _content_header(sol.best.content)
                  + f"Check: kei simulate {args.out} --cycle {sol.data.cycle.name}")
        write_vehicle(to_vehicle(sol.data, sol.best), args.out, header=header)
    if args.json:
        print_json(sol.to_dict(args.out))
    else:
        print(solution_text(sol, args.out))
    return 0


def _content_header(c: dict) -> str:
    if not c:
        return ""
    added = [r for r in c["required"] if not r["in_glider"]]
    opts = [o for o in c["options"] if o["cost_usd"] or o["mass_kg"]]
    return (f"Content ({c['profile']}, model year {c['model_year']}): "
            + (", ".join(f"{r['standard']} ${r['cost_usd']:,.0f}" for r in added) or "no lines added")
            + "; options: " + (", ".join(f"{o['id']} ${o['cost_usd']:,.0f}" for o in opts) or "baseline") + ".\n")


def _show_design_at_floor(problem, err: InfeasibleError, problem_path: str) -> None:
    """When only the price cap stands in the way, an engineer's next question is what the floor buys:
    show the full report of the best design at the floor price (the error itself follows on stderr)."""
    from kei.optimizer.answers.report import solution_text
    from kei.optimizer.solving.pipeline import solve

    floor_usd = err.details.get("cheapest_price_usd")
    if floor_usd is None or problem.objective != "max_range":
        return
    cap_usd = float(math.ceil(floor_usd))
    try:
        sol = solve(problem, price_cap_usd=cap_usd)
    except InfeasibleError:
        return
    print(f"No design meets {problem.name} at ${problem.price_cap_usd:,.0f}. The best one at the floor price "
          f"(kei solve {problem_path} --price-cap {cap_usd:.0f}):\n")
    print(solution_text(sol, None))
    print()
